"""One SQLAlchemy engine (one connection pool) per process and URL, counted on PostgreSQL.

The real engine runs on a fresh PostgreSQL database; requests reach its ticket, call-record,
recording and user stores. Every engine names its connections ``hotline[<pid>]#<n>``
(hotline.base.db.make_engine), so PostgreSQL's own ``pg_stat_activity`` tells how many
pools the engine process holds: exactly one. Before the stores leased a shared engine, each made
its own and the same query showed one name per store that had connected.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from hotline.base.db import make_engine
from hotline.base.settings import load_config
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix, config_toml
from tests.tickets.test_ticket_store import fresh_pg_database

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]


@dataclass
class PgEngine:
    proc: EngineProcess
    url: str = field(repr=False)  # holds the test role's password: never in a failure report


@pytest.fixture
def pg_engine(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[PgEngine]:
    with fresh_pg_database() as url:
        path = hotline_setup.state_dir / "hotline-pg.toml"
        path.write_text(config_toml(hotline_setup.state_dir, url), encoding="utf-8")
        setup = HotlineSetup(load_config(path, environ={}), path, hotline_setup.state_dir)
        _flush_redis_prefix(setup.cfg)
        proc = EngineProcess(setup, request.node.name)
        proc.start()
        try:
            yield PgEngine(proc, url)
        finally:
            proc.stop()


def pools_of(pid: int, url: str) -> dict[str, int]:
    """Connections to the database by application name, for the engine process ``pid``."""
    admin = make_engine(url, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT application_name, count(*) FROM pg_stat_activity"
                    " WHERE datname = :db AND application_name LIKE :mine GROUP BY 1"
                ),
                {"db": make_url(url).database, "mine": f"hotline[{pid}]#%"},
            )
            return {name: n for name, n in rows}
    finally:
        admin.dispose()


def test_the_engine_process_holds_one_pool_per_url(
    pg_engine: PgEngine,
) -> None:
    proc, url = pg_engine.proc, pg_engine.url
    assert proc.proc is not None
    # Each request goes through another store: tickets, call records (the report), voicemail
    # review (recordings); the desk's user watcher reads the users on its own.
    for path in ("/api/v1/tickets", "/api/v1/reports?from=2026-09-30&to=2026-09-30",
                 "/api/v1/voicemail/review"):  # fmt: skip
        try:
            proc.api("GET", path)
        except urllib.error.HTTPError as exc:  # an empty answer is fine; a store was reached
            assert exc.code < 500, f"GET {path}: {exc.code}"
    # The answers are in: the stores that served them hold their connections idle in a pool.
    pools = pools_of(proc.proc.pid, url)
    assert len(pools) == 1, f"connections by engine in process {proc.proc.pid}: {pools}"
