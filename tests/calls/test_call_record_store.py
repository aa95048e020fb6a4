"""Call-record store on SQLite: migrations, idempotent writes, time zones, the durable spool."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import StatementError

from hotline.app.migrate import REPO_ROOT, current, head, upgrade
from hotline.app.registry import METADATA
from hotline.base.db import make_engine
from hotline.calls.models import CallRecordRow
from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.service import CallRecordService
from hotline.calls.store import CallRecordStore, spool_name

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 6, 9, 30, tzinfo=UTC)
# A closed port: connection refused at once, the way a stopped PostgreSQL looks.
DOWN_PG_URL = "postgresql+psycopg://hotline:hotline@127.0.0.1:1/postgres"


def make_record(unique_id: str = "1700000000.12", at: datetime = T0, **kw: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "unique_id": unique_id,
        "linked_id": unique_id,
        "caller": "13800138000",
        "dialled": "12345",
        "arrived_at": at,
        "ivr_exit_at": at + timedelta(seconds=20),
        "queued_at": at + timedelta(seconds=21),
        "answered_at": at + timedelta(seconds=35),
        "ended_at": at + timedelta(minutes=4),
        "outcome": CallOutcome.ANSWERED,
        "agent_id": "1001",
        "ivr_path": "1>2",
        "skill": "consult",
        "hangup_cause": "Normal Clearing",
    }
    fields.update(kw)
    return CallRecord(**fields)


def schema_diffs(url: str) -> list[Any]:
    """What alembic autogenerate would change to make the migrated database match the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, METADATA))
    finally:
        engine.dispose()


def count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(CallRecordRow)) or 0)
    finally:
        engine.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    # The parent directory does not exist yet: upgrade() must create it.
    url = f"sqlite:///{tmp_path / 'state' / 'hotline.db'}"
    upgrade(url)
    return url


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def store(db_url: str, spool: Path) -> Iterator[CallRecordStore]:
    s = CallRecordStore(db_url, spool)
    yield s
    s.dispose()


@pytest.fixture
def down_store(tmp_path: Path, spool: Path) -> Iterator[CallRecordStore]:
    # SQLite cannot open a file in a directory that does not exist: an unreachable store.
    s = CallRecordStore(f"sqlite:///{tmp_path / 'missing' / 'hotline.db'}", spool)
    yield s
    s.dispose()


def test_make_engine_urls() -> None:
    assert make_engine("postgresql://u@h/db").dialect.driver == "psycopg"
    with pytest.raises(ValueError, match="not supported"):
        make_engine("mysql+pymysql://u@h/db")


def test_migration_state(tmp_path: Path, db_url: str) -> None:
    assert current(f"sqlite:///{tmp_path / 'never.db'}") is None
    assert not (tmp_path / "never.db").exists()
    assert current(db_url) == head()
    upgrade(db_url)  # idempotent
    assert current(db_url) == head()


def test_migrated_schema_matches_models(db_url: str) -> None:
    assert schema_diffs(db_url) == []


def test_alembic_cli_finds_ini_and_migrations_from_any_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ini = REPO_ROOT / "alembic.ini"
    cmd = [sys.executable, "-m", "alembic", "-c", str(ini), "-x", f"url={url}", "upgrade", "head"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert current(url) == head()


def test_write_get_duplicate(store: CallRecordStore, db_url: str) -> None:
    rec = make_record()
    assert store.get(rec.unique_id) is None
    assert store.write(rec) == "written"
    assert store.get(rec.unique_id) == rec
    assert store.write(rec) == "duplicate"
    assert count_rows(db_url) == 1
    assert store.spooled() == []


def test_optional_fields_and_wait_s(store: CallRecordStore, db_url: str) -> None:
    rec = make_record(
        "1700000001.3",
        outcome=CallOutcome.ABANDONED_IVR,
        ivr_exit_at=None,
        queued_at=None,
        answered_at=None,
        agent_id=None,
        ivr_path="",
        skill="",
    )
    answered = make_record("1700000001.4")
    assert store.write(rec) == "written"
    assert store.write(answered) == "written"
    assert store.get(rec.unique_id) == rec
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        waits = dict(conn.execute("SELECT unique_id, wait_s FROM call_records").fetchall())
    assert waits == {rec.unique_id: None, answered.unique_id: 14.0}


def test_time_zone_round_trip(store: CallRecordStore, db_url: str) -> None:
    beijing_morning = datetime(2024, 5, 6, 8, 0, 0, 123456, tzinfo=BEIJING)
    rec = make_record("tz.1", at=beijing_morning)
    store.write(rec)
    got = store.get("tz.1")
    assert got is not None
    assert got.arrived_at == beijing_morning  # the same instant ...
    assert got.arrived_at.tzinfo is UTC  # ... read back in UTC
    assert got.arrived_at.hour == 0 and got.arrived_at.microsecond == 123456
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        raw = conn.execute("SELECT arrived_at FROM call_records").fetchone()[0]
    assert raw.startswith("2024-05-06 00:00:00")  # stored as naive UTC


def test_naive_datetimes_are_refused(store: CallRecordStore) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        store.list_between(datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_list_between_is_half_open_and_ordered(store: CallRecordStore) -> None:
    minutes = [30, 0, 10, 60, -1]
    recs = [
        make_record(f"1700000000.{i}", at=T0 + timedelta(minutes=m)) for i, m in enumerate(minutes)
    ]
    for rec in recs:
        store.write(rec)
    got = store.list_between(T0, T0 + timedelta(minutes=60))
    assert [r.unique_id for r in got] == ["1700000000.1", "1700000000.2", "1700000000.0"]
    # Bounds in another zone mean the same instants.
    end = T0 + timedelta(hours=1)
    assert store.list_between(T0.astimezone(BEIJING), end.astimezone(BEIJING)) == got


def test_spool_when_sqlite_unreachable_then_flush(
    down_store: CallRecordStore, store: CallRecordStore, spool: Path, db_url: str
) -> None:
    rec = make_record("1700000000.12")
    assert down_store.write(rec) == "spooled"
    assert down_store.spooled() == ["1700000000.12"]
    assert down_store.flush_spool() == 0  # still down: the file stays
    files = sorted(p.name for p in spool.iterdir())
    assert files == ["1700000000.12.json"]  # no temp file left behind
    assert CallRecord.from_json(json.loads((spool / files[0]).read_text())) == rec

    assert store.flush_spool() == 1
    assert store.spooled() == []
    assert store.get(rec.unique_id) == rec
    assert count_rows(db_url) == 1


def test_spool_when_postgres_unreachable(spool: Path, store: CallRecordStore) -> None:
    down = CallRecordStore(DOWN_PG_URL, spool)
    try:
        rec = make_record("pg-down.1")
        assert down.write(rec) == "spooled"
        assert down.flush_spool() == 0
        assert down.spooled() == ["pg-down.1"]
    finally:
        down.dispose()
    assert store.flush_spool() == 1
    assert store.get("pg-down.1") == rec


def test_flushing_a_spooled_duplicate_leaves_one_row(
    down_store: CallRecordStore, store: CallRecordStore, db_url: str
) -> None:
    rec = make_record()
    assert store.write(rec) == "written"
    assert down_store.write(rec) == "spooled"
    assert store.flush_spool() == 1  # the row is there: the file goes
    assert store.spooled() == []
    assert count_rows(db_url) == 1


def test_corrupt_spool_files_go_to_bad_without_blocking_others(
    down_store: CallRecordStore, store: CallRecordStore, spool: Path, db_url: str
) -> None:
    down_store.write(make_record("good.2"))
    (spool / "aaa-truncated.json").write_text('{"unique_id": "aaa", "linked', encoding="utf-8")
    (spool / "bbb-wrong.json").write_text('{"unique_id": "bbb"}', encoding="utf-8")
    down_store.write(make_record("naive.1", at=datetime(2024, 1, 1)))  # column type refuses
    assert store.flush_spool() == 1
    assert store.get("good.2") is not None
    assert store.spooled() == []
    bad = sorted(p.name for p in (spool / "bad").iterdir())
    assert bad == ["aaa-truncated.json", "bbb-wrong.json", "naive.1.json"]
    assert (spool / "bad" / "aaa-truncated.json").read_text() == '{"unique_id": "aaa", "linked'
    assert count_rows(db_url) == 1


def test_spool_names_are_safe(down_store: CallRecordStore, spool: Path) -> None:
    ids = ["../../etc/passwd", "a/b", ".hidden", ".", "..", "x%2Ey", "本地-1.5", "9" * 300]
    for uid in ids:
        assert down_store.write(make_record(uid)) == "spooled"
    assert sorted(down_store.spooled()) == sorted(ids)
    names = [p.name for p in spool.iterdir()]
    assert len(names) == len(ids)
    assert all(not n.startswith(".") and "/" not in n and len(n) < 255 for n in names)
    assert len({spool_name(u) for u in ids}) == len(ids)


def test_failed_spool_write_leaves_no_partial_file(
    down_store: CallRecordStore, spool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        down_store.write(make_record())
    monkeypatch.undo()
    assert list(spool.iterdir()) == []


async def test_service_records_and_flushes(
    down_store: CallRecordStore, store: CallRecordStore
) -> None:
    assert await CallRecordService(down_store).record(make_record("svc.1")) == "spooled"
    service = CallRecordService(store)
    assert await service.record(make_record("svc.2")) == "written"
    assert await service.record(make_record("svc.2")) == "duplicate"
    assert await service.flush() == 1
    assert store.get("svc.1") is not None


async def test_service_reports_lost_when_even_the_spool_fails(
    down_store: CallRecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_disk(record: CallRecord) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(down_store, "_spool", no_disk)
    assert await CallRecordService(down_store).record(make_record()) == "lost"


async def test_spool_flusher_survives_errors(
    down_store: CallRecordStore, store: CallRecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    down_store.write(make_record("flusher.1"))
    real_flush = store.flush_spool
    calls = 0

    def flaky_flush() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return real_flush()

    monkeypatch.setattr(store, "flush_spool", flaky_flush)
    task = asyncio.create_task(CallRecordService(store).run_spool_flusher(0.01))
    try:
        for _ in range(500):
            if store.get("flusher.1") is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert calls >= 2
    assert store.get("flusher.1") is not None
    assert store.spooled() == []
