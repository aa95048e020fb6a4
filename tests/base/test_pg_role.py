"""scripts/pg-role.sh: the PostgreSQL role gets a generated password, never the fixed one.

Against a private PostgreSQL (tests/support/pg_server.py) whose pg_hba asks every role but the
superuser for a password (scram), as a Debian server does over TCP: an older setup's role with
password `hotline` is given a generated one, kept 0600 in the state directory and never printed;
`hotline` no longer logs in, the generated password does.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.support.pg_server import PgServer, PgServerError

pytestmark = pytest.mark.postgres
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pg-role.sh"


def can_log_in(port: int, password: str) -> bool:
    url = URL.create("postgresql+psycopg", "hotline", password, "127.0.0.1", port, "postgres")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT current_user")).scalar() == "hotline"
    except OperationalError:
        return False
    finally:
        engine.dispose()


def test_the_role_gets_a_generated_password(tmp_path: Path) -> None:
    try:
        pg = PgServer()
        pg.create()
        (pg.data_dir / "pg_hba.conf").write_text(
            "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        pg.start()
    except PgServerError as exc:
        pytest.fail(f"the private PostgreSQL did not start: {exc}")
    try:
        env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(pg.port), PGUSER="postgres",
                   HOTLINE_STATE_DIR=str(tmp_path))  # fmt: skip
        old = "CREATE ROLE hotline LOGIN PASSWORD 'hotline'"  # what setup used to create
        subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", old], env=env, check=True)
        assert can_log_in(pg.port, "hotline")

        done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        secret = tmp_path / "secrets" / "postgres-password"
        password = secret.read_text().strip()
        assert len(password) >= 16
        assert password not in done.stdout + done.stderr
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
        assert not can_log_in(pg.port, "hotline")
        assert can_log_in(pg.port, password)

        again = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True)
        assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
        assert secret.read_text().strip() == password and can_log_in(pg.port, password)
    finally:
        pg.destroy()
