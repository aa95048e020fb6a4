"""Call-record store on a real PostgreSQL: a fresh database per session, dropped at the end.

PostgreSQL comes from HOTLINE_TEST_PG_URL (a role allowed to CREATE DATABASE). If it cannot be
reached the tests FAIL: the production store must not go untested by accident.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hotline.app.migrate import current, head, upgrade
from hotline.base.db import make_engine
from hotline.calls.store import CallRecordStore
from tests.calls.test_call_record_store import (
    BEIJING,
    DOWN_PG_URL,
    T0,
    count_rows,
    make_record,
    schema_diffs,
)
from tests.support.pg_url import shared_pg_url

pytestmark = pytest.mark.postgres

PG_URL = shared_pg_url()  # HOTLINE_TEST_PG_URL, else the role setup made


def _admin_engine() -> Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    return make_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_store_url() -> Iterator[str]:
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    problem = ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        problem = str(exc)
    if problem:  # fail outside the except block: the driver's traceback adds nothing
        admin.dispose()
        shown = make_url(PG_URL).render_as_string(hide_password=True)
        pytest.fail(
            f"PostgreSQL at {shown} (HOTLINE_TEST_PG_URL) is not usable: "
            f"cannot create a test database: {problem}",
            pytrace=False,
        )
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_store(pg_store_url: str, tmp_path: Path) -> Iterator[CallRecordStore]:
    store = CallRecordStore(pg_store_url, tmp_path / "spool")
    yield store
    store.dispose()


def test_pg_migration_state_and_schema(pg_store_url: str) -> None:
    assert current(pg_store_url) == head()
    upgrade(pg_store_url)  # idempotent
    assert current(pg_store_url) == head()
    assert schema_diffs(pg_store_url) == []


def test_pg_write_get_duplicate(pg_store: CallRecordStore, pg_store_url: str) -> None:
    rec = make_record(f"{uuid.uuid4().int % 10**10}.7")
    before = count_rows(pg_store_url)
    assert pg_store.get(rec.unique_id) is None
    assert pg_store.write(rec) == "written"
    assert pg_store.get(rec.unique_id) == rec
    assert pg_store.write(rec) == "duplicate"
    assert count_rows(pg_store_url) == before + 1
    assert pg_store.spooled() == []


def test_pg_time_zone_round_trip(pg_store: CallRecordStore, pg_store_url: str) -> None:
    at = datetime(2024, 5, 6, 8, 0, 0, 123456, tzinfo=BEIJING)
    rec = make_record("pg-tz.1", at=at)
    pg_store.write(rec)
    got = pg_store.get("pg-tz.1")
    assert got is not None and got.arrived_at == at and got.arrived_at.tzinfo is UTC
    engine = make_engine(pg_store_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
            local = conn.scalar(
                text(
                    "SELECT to_char(arrived_at, 'HH24:MI') FROM call_records WHERE unique_id = :u"
                ),
                {"u": "pg-tz.1"},
            )
    finally:
        engine.dispose()
    assert local == "08:00"  # timestamptz: a Beijing session sees Beijing time


def test_pg_list_between(pg_store: CallRecordStore) -> None:
    base = T0 + timedelta(days=400)  # away from the other tests' rows
    for i, minutes in enumerate([30, 0, 60]):
        pg_store.write(make_record(f"pg-list.{i}", at=base + timedelta(minutes=minutes)))
    got = pg_store.list_between(base, base + timedelta(hours=1))
    assert [r.unique_id for r in got] == ["pg-list.1", "pg-list.0"]


def test_pg_spool_while_down_then_flush(
    pg_store: CallRecordStore, pg_store_url: str, tmp_path: Path
) -> None:
    down = CallRecordStore(DOWN_PG_URL, tmp_path / "spool")
    try:
        rec = make_record("pg-spool.1")
        assert down.write(rec) == "spooled"
        assert down.write(rec) == "spooled"  # the same record twice: still one file
        assert down.flush_spool() == 0
        assert down.spooled() == ["pg-spool.1"]
    finally:
        down.dispose()
    before = count_rows(pg_store_url)
    assert pg_store.flush_spool() == 1
    assert pg_store.spooled() == []
    assert pg_store.get("pg-spool.1") == rec
    assert count_rows(pg_store_url) == before + 1


def test_pg_flushing_a_spooled_duplicate_leaves_one_row(
    pg_store: CallRecordStore, pg_store_url: str, tmp_path: Path
) -> None:
    rec = make_record("pg-dup.1")
    assert pg_store.write(rec) == "written"
    down = CallRecordStore(DOWN_PG_URL, tmp_path / "spool")
    try:
        assert down.write(rec) == "spooled"
    finally:
        down.dispose()
    before = count_rows(pg_store_url)
    assert pg_store.flush_spool() == 1
    assert pg_store.spooled() == []
    assert count_rows(pg_store_url) == before


def test_pg_refused_record_goes_to_bad(pg_store: CallRecordStore, tmp_path: Path) -> None:
    # Longer than the VARCHAR(64) key: PostgreSQL refuses it for good, so it must not block.
    too_long = make_record("x" * 80)
    assert pg_store.write(too_long) == "spooled"
    down = CallRecordStore(DOWN_PG_URL, tmp_path / "spool")
    try:
        down.write(make_record("pg-bad.ok"))
    finally:
        down.dispose()
    assert pg_store.flush_spool() == 1
    assert pg_store.get("pg-bad.ok") is not None
    assert [p.name for p in (tmp_path / "spool" / "bad").iterdir()] == ["x" * 80 + ".json"]
