"""The shared PostgreSQL the suite creates its databases on: HOTLINE_TEST_PG_URL, else the role
`hotline` on 127.0.0.1:5432 with the password scripts/pg-role.sh generated at setup (kept in
$HOTLINE_STATE_DIR/secrets/postgres-password, default /var/lib/hotline). There is no fixed
password any more; without the file the URL has none and the tests that need it fail saying
what to run."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL


def shared_pg_url() -> str:
    configured = os.environ.get("HOTLINE_TEST_PG_URL")
    if configured:
        return configured
    state_dir = Path(os.environ.get("HOTLINE_STATE_DIR", "/var/lib/hotline"))
    try:
        password = (state_dir / "secrets" / "postgres-password").read_text().strip()
    except OSError:  # not set up yet: connecting fails and the test says so
        password = None
    url = URL.create("postgresql+psycopg", "hotline", password, "127.0.0.1", 5432, "postgres")
    return url.render_as_string(hide_password=False)
