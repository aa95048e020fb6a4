"""Ticket store: call records written per second, and the daily report over 1,000,000 calls.

Writes. ``CallRecordStore.write`` one record at a time, as the engine stores each call when it
ends: every write is its own transaction, committed (durably) before it returns. Into SQLite (a
file in a temporary directory) and PostgreSQL (a fresh database on the shared server, created
and dropped here), each with the settings the engine runs with (SQLite's default rollback
journal with synchronous=FULL; PostgreSQL's synchronous_commit as the server has it): records/s
and the latency of one write (p50, p99, max). For context, the same through
``CallRecordService.record`` with ``CONCURRENT`` calls ending at the same moment (the service
writes in worker threads, so a busy centre overlaps them).

Report. One Beijing day holding 1,000,000 call records (a big city's 12345 takes 30-50 thousand
calls a day: this is a month of them squeezed into one day) with a hotline's day profile and
outcome mix, bulk-loaded (SQLite: executemany in one transaction; PostgreSQL: COPY, then VACUUM
ANALYZE as autovacuum would after so many inserts), then ``hotline.tickets.reports.build_report``
(what
``hotline report`` runs) for that day, each time on a new engine as the CLI does: cold (the first
report after loading) and warm (median of the next three). The ticket tables are empty: the
call figures are the part that grows with traffic. Both databases must give the same report;
the bench says whether they do.

PostgreSQL: ``HOTLINE_BENCH_PG_URL``, else ``HOTLINE_TEST_PG_URL``, else the role ``hotline`` on
127.0.0.1:5432 with the password setup generated (scripts/pg-role.sh; allowed to CREATE
DATABASE). Without it the SQLite figures are still printed, then the bench reports it could not
run the PostgreSQL part.
Figures only, never pass/fail (goals: >= 1,000 writes/s, report <= 2 s).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hotline.app.migrate import upgrade
from hotline.base.db import CallRecordStore, make_engine
from hotline.calls.models import CallRecordRow
from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.service import CallRecordService
from hotline.tickets.reports import Period, build_report
from hotline.tickets.workdays import SHANGHAI
from tests.support.pg_url import shared_pg_url

PG_URL = os.environ.get("HOTLINE_BENCH_PG_URL") or shared_pg_url()
WRITES = 3000  # timed writes per database (after WARMUP untimed ones)
WARMUP = 50
CONCURRENT = 8
REPORT_CALLS = 1_000_000
CHUNK = 50_000  # rows per bulk-load batch
DAY = date(2026, 11, 23)  # a Monday
WARM_RUNS = 3

# Share of the day's calls per Beijing hour: quiet nights, a morning peak, a lunch dip, an
# afternoon peak (the shape of a municipal hotline's day).
HOUR_SHARE = (0.6, 0.4, 0.3, 0.2, 0.2, 0.3, 0.8, 2.0, 5.5, 8.2, 8.6, 7.4,
              5.2, 5.0, 7.0, 7.6, 7.4, 6.6, 4.8, 3.8, 3.3, 2.6, 1.9, 1.1)  # fmt: skip
# Outcome mix, cumulative: answered 82 %, abandoned in the queue 6 %, left in the IVR 8 %,
# voicemail 3 %, transferred 1 %.
OUTCOMES = (
    (0.82, "answered"),
    (0.88, "abandoned_queue"),
    (0.96, "abandoned_ivr"),
    (0.99, "voicemail"),
    (1.00, "transferred"),
)
SKILLS = ("general", "consult", "request", "complaint")
COLUMNS = [c.name for c in CallRecordRow.__table__.columns]
US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- synthetic calls ---------------------------------------------------------------------------


def day_of_calls(n: int, day: date, seed: int = 12345) -> Iterator[tuple[Any, ...]]:
    """``n`` call records of one Beijing day, in arrival order, as rows in ``COLUMNS`` order.

    Times are integer microseconds since the epoch (``None`` where the call never got there),
    so the loaders below can format them without building a million datetimes. Unique ids are
    Asterisk's ``<epoch>.<channel sequence>``; the sequence also counts agent legs.
    """
    rng = random.Random(seed)
    start_us = int((datetime.combine(day, datetime.min.time(), SHANGHAI) - EPOCH) / timedelta(
        microseconds=1))  # fmt: skip
    total = sum(HOUR_SHARE)
    counts = [round(n * share / total) for share in HOUR_SHARE]
    counts[9] += n - sum(counts)  # rounding remainder into the busiest hour
    seq = 100
    rand, expo, randrange = rng.random, rng.expovariate, rng.randrange
    for hour, count in enumerate(counts):
        hour_us = start_us + hour * 3600 * US
        for offset in sorted(randrange(3600 * US) for _ in range(count)):
            arrived = hour_us + offset
            seq += 2
            uid = f"{arrived // US}.{seq}"
            caller = f"1{randrange(3, 10)}{randrange(10**9):09d}"
            u = rand()
            outcome = next(name for limit, name in OUTCOMES if u < limit)
            exit_ = arrived + int((6 + 30 * rand()) * US)
            enqueued = exit_ + 20_000
            digit = randrange(4)
            ivr_path, skill = f"{digit}>{randrange(1, 3)}", SKILLS[digit]
            ivr_exit: int | None = exit_
            queued: int | None = enqueued
            answered: int | None = None
            agent: str | None = None
            if outcome == "abandoned_ivr":
                ivr_exit = queued = None
                ivr_path, skill = "", ""
                ended = arrived + int((3 + 25 * rand()) * US)
            elif outcome in ("answered", "transferred"):
                answered = enqueued + int(expo(1 / 8.0) * US)
                agent = f"1{randrange(200):03d}"
                ended = answered + int((40 + 400 * rand()) * US)
            elif outcome == "abandoned_queue":
                ended = enqueued + int(expo(1 / 40.0) * US)
            else:  # voicemail after the queue gave up
                ended = enqueued + int((60 + 60 * rand()) * US)
            wait = None if queued is None else ((answered or ended) - enqueued) / US
            yield (
                uid,
                uid,
                caller,
                "12345",
                arrived,
                ended,
                outcome,
                ivr_exit,
                queued,
                answered,
                agent,
                ivr_path,
                skill,
                "Normal Clearing",
                "",
                wait,
                ended + 3000,
            )  # fmt: skip  ("": speech_text, what was said to the IVR)


def to_record(row: tuple[Any, ...]) -> CallRecord:
    """The CallRecord a generated row stands for (``wait_s`` and ``written_at`` are derived)."""
    values = dict(zip(COLUMNS, row, strict=True))
    for key in ("arrived_at", "ended_at", "ivr_exit_at", "queued_at", "answered_at"):
        if values[key] is not None:
            values[key] = EPOCH + timedelta(microseconds=values[key])
    del values["wait_s"], values["written_at"]
    values["outcome"] = CallOutcome(values["outcome"])
    return CallRecord(**values)


class UtcText:
    """Microseconds since the epoch -> 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), cached per second.

    That is exactly how hotline.calls.models.UTCDateTime stores an instant on SQLite (checked by
    ``check_format``); PostgreSQL's COPY takes the same text with '+00' appended.
    """

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def __call__(self, us: int | None) -> str | None:
        if us is None:
            return None
        sec, frac = divmod(us, US)
        prefix = self._seconds.get(sec)
        if prefix is None:
            prefix = (EPOCH + timedelta(seconds=sec)).strftime("%Y-%m-%d %H:%M:%S")
            self._seconds[sec] = prefix
        return f"{prefix}.{frac:06d}"


def check_format(engine: Engine, fmt: UtcText) -> None:
    """Refuse to load if the fast formatter differs from what the model writes on SQLite."""
    column = CallRecordRow.__table__.c.arrived_at
    process = column.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    for us in (0, 1, 1_795_420_935_000_001, 1_795_420_935_999_999, 1_795_420_936_000_000):
        instant = EPOCH + timedelta(microseconds=us)
        stored = process(instant) if process else instant
        if stored != fmt(us):
            raise SystemExit(f"bench formatter writes {fmt(us)!r}, the model {stored!r}")


# -- databases ---------------------------------------------------------------------------------


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new database on the shared PostgreSQL server, dropped afterwards."""
    name = f"hotline_bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        shown = make_url(PG_URL).render_as_string(hide_password=True)
        raise SystemExit(f"PostgreSQL at {shown} is not usable: {exc}") from None
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings(url: str) -> str:
    """The durability settings a connection of the store gets (the engine's, untouched)."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                level = int(conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
                sync = ("OFF", "NORMAL", "FULL", "EXTRA")[level]
                return f"SQLite, journal_mode={journal}, synchronous={sync}"
            commit = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            return f"PostgreSQL {version}, synchronous_commit={commit}"
    finally:
        engine.dispose()


# -- (a) writes --------------------------------------------------------------------------------


class SpoolWarnings(logging.Handler):
    """Counts the store's "spooled" warnings (a write the database did not take) and keeps the
    first reason, so the bench prints one line instead of a log record with SQL per write."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.first = self.first or record.getMessage().splitlines()[0]

    @contextmanager
    def attached(self) -> Iterator[SpoolWarnings]:
        logger = logging.getLogger("hotline.base.db")
        logger.addHandler(self)
        propagate, logger.propagate = logger.propagate, False
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.propagate = propagate


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def bench_writes(label: str, url: str, spool: Path) -> None:
    rows = day_of_calls(WARMUP + 2 * WRITES, DAY, seed=7)
    records = [to_record(r) for r in rows]
    print(f"{label}: {settings(url)}")
    store = CallRecordStore(url, spool)
    try:
        for rec in records[:WARMUP]:
            store.write(rec)
        timed = records[WARMUP : WARMUP + WRITES]
        latencies = []
        results: dict[str, int] = {}
        with SpoolWarnings().attached() as warnings:
            started = time.perf_counter()
            for rec in timed:
                t0 = time.perf_counter()
                result = store.write(rec)
                latencies.append(time.perf_counter() - t0)
                results[result] = results.get(result, 0) + 1
            elapsed = time.perf_counter() - started
        latencies.sort()
        print(
            f"  one at a time      {WRITES / elapsed:8.0f} records/s   "
            f"p50 {percentile(latencies, 0.50) * 1e3:6.2f} ms   "
            f"p99 {percentile(latencies, 0.99) * 1e3:6.2f} ms   "
            f"max {latencies[-1] * 1e3:6.2f} ms   {results}"
        )
        if warnings.count:
            print(f"    spooled instead of written: {warnings.count}, e.g. {warnings.first}")
        rest = records[WARMUP + WRITES :]
        service = CallRecordService(store)
        with SpoolWarnings().attached() as warnings:
            elapsed, results = asyncio.run(concurrent_writes(service, rest))
        print(
            f"  {CONCURRENT} calls at once    {len(rest) / elapsed:8.0f} records/s   "
            f"(CallRecordService.record, worker threads)   {results}"
        )
        if warnings.count:
            print(f"    spooled instead of written: {warnings.count}, e.g. {warnings.first}")
            print(f"    flushed from the spool afterwards: {store.flush_spool()}")
    finally:
        store.dispose()


async def concurrent_writes(
    service: CallRecordService, records: list[CallRecord]
) -> tuple[float, dict[str, int]]:
    queue = list(reversed(records))
    results: dict[str, int] = {}

    async def worker() -> None:
        while queue:
            result = await service.record(queue.pop())
            results[result] = results.get(result, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENT)))
    return time.perf_counter() - started, results


# -- (b) the daily report ----------------------------------------------------------------------


def load_sqlite(engine: Engine, chunks: Callable[[], Iterator[list[tuple[Any, ...]]]]) -> float:
    fmt = UtcText()
    check_format(engine, fmt)
    placeholders = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO call_records ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for chunk in chunks():
            cur.executemany(
                sql,
                [(r[0], r[1], r[2], r[3], fmt(r[4]), fmt(r[5]), r[6], fmt(r[7]), fmt(r[8]),
                  fmt(r[9]), r[10], r[11], r[12], r[13], r[14], r[15], fmt(r[16]))
                 for r in chunk],
            )  # fmt: skip
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def load_postgresql(
    engine: Engine, chunks: Callable[[], Iterator[list[tuple[Any, ...]]]]
) -> tuple[float, float]:
    fmt = UtcText()

    def ts(us: int | None) -> str:
        return "\\N" if us is None else f"{fmt(us)}+00"

    def val(v: Any) -> str:
        return "\\N" if v is None else repr(v) if isinstance(v, float) else str(v)

    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur: Any = raw.cursor()
        with cur.copy(f"COPY call_records ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for chunk in chunks():
                copy.write(
                    "".join(
                        f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{ts(r[4])}\t{ts(r[5])}\t{r[6]}\t"
                        f"{ts(r[7])}\t{ts(r[8])}\t{ts(r[9])}\t{val(r[10])}\t{r[11]}\t{r[12]}\t"
                        f"{r[13]}\t{r[14]}\t{val(r[15])}\t{ts(r[16])}\n"
                        for r in chunk
                    )
                )
        raw.commit()
    finally:
        raw.close()
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    url = engine.url.render_as_string(hide_password=False)
    vacuum = make_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with vacuum.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE) call_records"))
    finally:
        vacuum.dispose()
    return loaded, time.perf_counter() - started


def time_reports(url: str) -> tuple[float, list[float], dict[str, Any]]:
    """Cold (first) and warm report times, each on a new engine as `hotline report` does."""
    period = Period.parse(DAY.isoformat(), DAY.isoformat())
    now = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), SHANGHAI)
    times, report = [], {}
    for _ in range(1 + WARM_RUNS):
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            report = build_report(engine, period, now)
            times.append(time.perf_counter() - started)
        finally:
            engine.dispose()
    return times[0], times[1:], report


def spot_check(url: str, sample: list[tuple[Any, ...]]) -> None:
    """Bulk-loaded rows must read back through the store as the records they stand for."""
    with tempfile.TemporaryDirectory() as spool:
        store = CallRecordStore(url, spool)
        try:
            for row in sample:
                if store.get(row[0]) != to_record(row):
                    raise SystemExit(f"bulk-loaded call {row[0]} does not read as generated")
        finally:
            store.dispose()


def bench_report(targets: list[tuple[str, str]]) -> None:
    sample: dict[str, tuple[Any, ...]] = {}  # every 99,991st row, read back after loading

    def chunks() -> Iterator[list[tuple[Any, ...]]]:
        """The day's rows in batches, generated afresh (the same every time) for each load."""
        batch: list[tuple[Any, ...]] = []
        for i, row in enumerate(day_of_calls(REPORT_CALLS, DAY)):
            batch.append(row)
            if i % 99_991 == 0:
                sample[row[0]] = row
            if len(batch) == CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch

    started = time.perf_counter()
    for _ in day_of_calls(REPORT_CALLS // 10, DAY):
        pass
    generate = (time.perf_counter() - started) * 10
    print(f"report: {REPORT_CALLS:,} call records on {DAY} (Beijing); generating them takes "
          f"~{generate:.1f} s, included in the load times")  # fmt: skip
    reports = {}
    for label, url in targets:
        engine = make_engine(url)
        try:
            if engine.dialect.name == "sqlite":
                load = f"executemany {load_sqlite(engine, chunks):.1f} s"
            else:
                copy_s, vacuum_s = load_postgresql(engine, chunks)
                load = f"COPY {copy_s:.1f} s + VACUUM ANALYZE {vacuum_s:.1f} s"
        finally:
            engine.dispose()
        spot_check(url, list(sample.values()))
        cold, warm, reports[label] = time_reports(url)
        inbound = reports[label]["calls"]["inbound"]
        print(
            f"  {label:<10} load {load};  report cold {cold:.2f} s, "
            f"warm {statistics.median(warm):.2f} s (median of {len(warm)}: "
            f"{', '.join(f'{t:.2f}' for t in warm)});  inbound {inbound:,}"
        )
    if len(reports) == 2:
        first, second = reports.values()
        same = "yes" if first == second else "NO, they differ"
        print(f"  the same report on both databases: {same}")
    calls = next(iter(reports.values()))["calls"]
    print(f"  (day figures: answer rate {calls['answer_rate']}, service level 15 s "
          f"{calls['service_level_15s']}, ASA {calls['asa_s']} s, "
          f"abandoned {calls['abandoned']:,})")  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        base = Path(tmp)
        sqlite_url = f"sqlite:///{base / 'writes.db'}"
        upgrade(sqlite_url)
        bench_writes("SQLite", sqlite_url, base / "spool-sqlite")
        pg_problem = ""
        try:
            with fresh_pg_database() as pg_url:
                upgrade(pg_url)
                bench_writes("PostgreSQL", pg_url, base / "spool-pg")
        except SystemExit as exc:
            pg_problem = str(exc.code)
            print(f"PostgreSQL: skipped: {pg_problem}")
        print()

        report_sqlite = f"sqlite:///{base / 'report.db'}"
        upgrade(report_sqlite)
        if pg_problem:
            bench_report([("SQLite", report_sqlite)])
            raise SystemExit(f"the PostgreSQL part could not run: {pg_problem}")
        with fresh_pg_database() as pg_url:
            upgrade(pg_url)
            bench_report([("SQLite", report_sqlite), ("PostgreSQL", pg_url)])


if __name__ == "__main__":
    main()
