"""Alembic environment for the ticket store.

The database URL comes from, in order: ``config.attributes["url"]`` (hotline.app.migrate),
``-x url=...`` on the command line, ``sqlalchemy.url`` in the ini file. Nothing is guessed.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hotline.base.db import make_engine
from hotline.calls.models import Base, UTCDateTime

config = context.config

# Only the alembic command line has an ini file; hotline.app.migrate passes none so that a
# migration at engine start leaves the engine's logging alone.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=... (or use `hotline db`)")
    return str(url)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # New migrations must not import application code: spell the column type out.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "render_item": render_item,
    }


def run_offline() -> None:
    url = database_url()
    backend = make_url(url).get_backend_name()
    context.configure(url=url, literal_binds=True, **options(backend))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **options(connection.dialect.name))
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
