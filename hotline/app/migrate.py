"""Bring a ticket store to the latest schema with Alembic, from code (engine start, `hotline db`).

The migrations live at the repository root (``migrations/``, next to ``alembic.ini``), the parent
of this package; an editable install (``pip install -e .``) keeps them there.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hotline.base.db import make_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO_ROOT / "migrations"


def alembic_config(url: str) -> Config:
    if not (MIGRATIONS / "env.py").is_file():
        raise RuntimeError(
            f"Alembic migrations not found at {MIGRATIONS}: install the project from its "
            "source tree (pip install -e .) so migrations/ sits next to the tickets package"
        )
    # No ini file on purpose: env.py would run logging.config.fileConfig on it and replace the
    # running engine's logging set-up (disabling its loggers) in the middle of start-up.
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def _sqlite_file(url: str) -> Path | None:
    """The database file of a file-based SQLite URL, else None."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def upgrade(url: str) -> None:
    """Create or upgrade the schema at ``url`` to the newest revision (idempotent)."""
    path = _sqlite_file(url)
    if path is not None:  # SQLite creates the file but not its directory
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at; None before the first upgrade."""
    path = _sqlite_file(url)
    if path is not None and not path.exists():  # do not create an empty file just to look
        return None
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest migration's revision (what `upgrade` brings a store to)."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if revision is None:
        raise RuntimeError("no Alembic migrations found")
    return revision
