"""Fault test: PostgreSQL stopped while 200 calls end; once it is back, exactly 200 call records.

The server is a private one (tests/support/pg_server.py), never the shared 127.0.0.1:5432, and
it really stops (``pg_ctl stop -m fast``: connections are cut, new ones refused). The calls end
through the engine's own path, ``CallRecordService.record`` (writes in a worker thread), a few
at a time as on a busy centre, in five phases:

  1. 70 calls end while PostgreSQL is up: written.
  2. 10 calls end while the server is being stopped: written or spooled, whichever the moment
     allows (a commit cut off mid-way may leave a row AND a spool file: the flush must not
     double it).
  3. 60 calls end while it is down: all spooled, none lost; meanwhile 10 of the records written
     in phase 1 are delivered again (a restarted engine may resend): spooled as well.
  4. PostgreSQL starts again; the service's spool flusher empties the spool.
  5. The last 60 calls end, written at once by the same store: 30, then PostgreSQL is restarted
     between two calls (the pool now holds only dead connections), then 30 more, which must
     still be written, not spooled: the pool replaces dead connections before use
     (pool_pre_ping). 5 late re-deliveries are recognised as duplicates.

Then the table holds exactly 200 rows, one per unique id, each equal field by field to the record
that was sent, and the spool is empty. If PostgreSQL cannot be started the test FAILS saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from hotline.app.migrate import current, head, upgrade
from hotline.base.db import make_engine
from hotline.calls.models import CallRecordRow, record_from_row
from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.service import CallRecordService
from hotline.calls.store import CallRecordStore
from tests.support.pg_server import PgServer, port_in_use

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

BEIJING = timezone(timedelta(hours=8))
CALLS = 200
UP, STOPPING, DOWN, AFTER = 70, 10, 60, 60  # calls ending in each phase
RESENT_WHILE_DOWN, RESENT_AFTER = 10, 5
CONCURRENT = 4  # calls whose records are being written at the same moment


def hotline_calls(n: int, seed: int = 12345) -> list[CallRecord]:
    """``n`` finished calls of a 12345 morning, as the call tracker builds them.

    Unique ids are Asterisk's ``<epoch>.<channel sequence>`` (the sequence also counts the
    agent legs, so it jumps); times are Beijing time with microseconds; the outcome mix and
    the fields each outcome fills follow the tracker (no queue time for calls that left in the
    IVR, no agent for calls nobody answered).
    """
    rng = random.Random(seed)
    at = datetime(2026, 11, 23, 9, 2, 15, 431207, tzinfo=BEIJING)
    seq = 12
    skills = {"1": "consult", "2": "request", "3": "complaint", "0": "general"}
    causes = ["Normal Clearing", "Normal Clearing", "Normal Clearing", "User busy"]
    weights = {  # a single server's morning: no node fails
        CallOutcome.ANSWERED: 78,
        CallOutcome.ABANDONED_QUEUE: 8,
        CallOutcome.ABANDONED_IVR: 8,
        CallOutcome.VOICEMAIL: 4,
        CallOutcome.TRANSFERRED: 2,
    }
    outcomes = list(weights)
    calls = []
    for _ in range(n):
        at += timedelta(seconds=rng.uniform(0.5, 6.0))
        seq += rng.randint(1, 3)
        uid = f"{int(at.timestamp())}.{seq}"
        outcome = rng.choices(outcomes, list(weights.values()))[0]
        if rng.random() < 0.8:
            caller = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"  # mobile
        else:
            caller = f"0571{rng.randrange(8 * 10**7, 9 * 10**7)}"  # Hangzhou landline
        digit = rng.choice("1230")
        ivr_exit = at + timedelta(seconds=rng.uniform(6.0, 40.0))
        queued = ivr_exit + timedelta(milliseconds=rng.randint(5, 80))
        wait = timedelta(seconds=rng.expovariate(1 / 9.0))
        fields: dict[str, Any] = {
            "ivr_path": f"{digit}>{rng.choice('12')}" if digit != "0" else "0",
            "skill": skills[digit],
            "hangup_cause": rng.choice(causes),
        }
        if outcome is CallOutcome.ABANDONED_IVR:
            fields.update(ivr_path=digit if rng.random() < 0.5 else "", skill="")
            fields["ended_at"] = at + timedelta(seconds=rng.uniform(3.0, 30.0))
        elif outcome in (CallOutcome.ANSWERED, CallOutcome.TRANSFERRED):
            answered = queued + wait
            fields.update(ivr_exit_at=ivr_exit, queued_at=queued, answered_at=answered)
            fields["agent_id"] = f"10{rng.randrange(1, 40):02d}"
            fields["ended_at"] = answered + timedelta(seconds=rng.uniform(40.0, 600.0))
        elif outcome is CallOutcome.ABANDONED_QUEUE:
            fields.update(ivr_exit_at=ivr_exit, queued_at=queued, ended_at=queued + wait)
        else:  # voicemail: the queue gave up on the caller, who left a message
            fields.update(ivr_exit_at=ivr_exit, queued_at=queued)
            fields["ended_at"] = queued + timedelta(seconds=rng.uniform(60.0, 120.0))
        calls.append(
            CallRecord(
                unique_id=uid,
                linked_id=uid,
                caller=caller,
                dialled="12345",
                arrived_at=at,
                outcome=outcome,
                **fields,
            )
        )
    assert len({c.unique_id for c in calls}) == n
    return calls


async def end_calls(
    service: CallRecordService, records: Sequence[CallRecord], gap_s: float = 0.0
) -> list[str]:
    """End ``records`` through the service, ``CONCURRENT`` at a time (or one every ``gap_s``);
    the write results in order."""
    limit = asyncio.Semaphore(CONCURRENT)

    async def one(i: int, rec: CallRecord) -> str:
        await asyncio.sleep(i * gap_s)
        async with limit:
            return await service.record(rec)

    return list(await asyncio.gather(*(one(i, r) for i, r in enumerate(records))))


@contextlib.contextmanager
def private_postgresql() -> Iterator[PgServer]:
    """A throwaway server with a migrated ``hotline`` database; FAILS the test if it cannot."""
    server: PgServer | None = None
    problem = ""
    try:
        server = PgServer()
        server.create()
        server.start()
        admin = make_engine(server.url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE hotline"))
        finally:
            admin.dispose()
        upgrade(server.url("hotline"))
    except Exception as exc:  # PgServerError, or the SQL of the set-up
        problem = f"{type(exc).__name__}: {exc}"
    if problem or server is None:  # fail outside the except block: no chained traceback
        if server is not None:
            server.destroy()
        pytest.fail(f"cannot run a private PostgreSQL server: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.destroy()


async def wait_for_empty_spool(store: CallRecordStore, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while store.spooled():
        if time.monotonic() > deadline:
            pytest.fail(f"spool not flushed within {timeout_s} s: {len(store.spooled())} left")
        await asyncio.sleep(0.05)


async def test_postgresql_stopped_while_200_calls_end(tmp_path: Path) -> None:
    calls = hotline_calls(CALLS)
    phases = [UP, STOPPING, DOWN, AFTER]
    assert sum(phases) == CALLS
    bounds = list(itertools.accumulate(phases, initial=0))
    up, stopping, down, after = (calls[a:b] for a, b in itertools.pairwise(bounds))
    spool = tmp_path / "spool"

    with private_postgresql() as server:
        url = server.url("hotline")
        assert current(url) == head()
        store = CallRecordStore(url, spool)
        service = CallRecordService(store)
        flusher: asyncio.Task[None] | None = None
        try:
            # 1. Up: every record goes straight in.
            assert await end_calls(service, up) == ["written"] * UP

            # 2. The server is stopped while calls are ending (one every 20 ms meanwhile).
            stop = asyncio.create_task(asyncio.to_thread(server.stop, "fast"))
            in_flight = await end_calls(service, stopping, gap_s=0.02)
            await stop
            print(f"ended while the server was stopping: {dict(Counter(in_flight))}")
            assert set(in_flight) <= {"written", "spooled"}, in_flight
            assert not server.running() and not port_in_use(server.port)  # really down

            # 3. Down: new calls end, old ones are resent; all of it waits in the spool.
            resent = up[:RESENT_WHILE_DOWN]
            assert await end_calls(service, down) == ["spooled"] * DOWN
            assert await end_calls(service, resent) == ["spooled"] * RESENT_WHILE_DOWN
            expected_spool = {r.unique_id for r in down + resent}
            expected_spool |= {r.unique_id for r, res in zip(stopping, in_flight, strict=True)
                               if res == "spooled"}  # fmt: skip
            assert sorted(store.spooled()) == sorted(expected_spool)
            assert await service.flush() == 0  # still down: nothing leaves, nothing is lost
            assert sorted(store.spooled()) == sorted(expected_spool)
            back_at = datetime.now(UTC)

            # 4. Back: the engine's own flusher empties the spool.
            await asyncio.to_thread(server.start)
            flusher = asyncio.create_task(service.run_spool_flusher(0.1))
            await wait_for_empty_spool(store, timeout_s=20)

            # 5. The same store writes again at once: its connection pool recovered, even when
            # the server restarts between two calls and every pooled connection is dead.
            half = AFTER // 2
            assert await end_calls(service, after[:half]) == ["written"] * half
            await asyncio.to_thread(server.stop, "fast")
            await asyncio.to_thread(server.start)
            assert await end_calls(service, after[half:]) == ["written"] * (AFTER - half)
            late = up[RESENT_WHILE_DOWN : RESENT_WHILE_DOWN + RESENT_AFTER]
            assert await end_calls(service, late) == ["duplicate"] * RESENT_AFTER
            assert await service.flush() == 0
        finally:
            if flusher is not None:
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
            store.dispose()

        # Exactly 200 rows, one per call, each as sent.
        engine = make_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                c = CallRecordRow
                assert conn.scalar(select(func.count()).select_from(c)) == CALLS
                assert conn.scalar(select(func.count(func.distinct(c.unique_id)))) == CALLS
                doubled = select(c.unique_id).group_by(c.unique_id).having(func.count() > 1)
                assert conn.scalars(doubled).all() == []
            with Session(engine) as session:
                rows = {row.unique_id: row for row in session.scalars(select(c))}
        finally:
            engine.dispose()

    sent = {r.unique_id: r for r in calls}
    assert sorted(rows) == sorted(sent)
    for uid, rec in sent.items():
        row = rows[uid]
        assert record_from_row(row) == rec, uid
        if rec.wait_s is None:
            assert row.wait_s is None, uid
        else:
            assert row.wait_s == pytest.approx(rec.wait_s), uid
    assert Counter(r.outcome.value for r in calls) == Counter(r.outcome for r in rows.values())
    # The records that ended while PostgreSQL was down reached it only after it came back.
    assert all(rows[r.unique_id].written_at < back_at for r in up)
    assert all(rows[r.unique_id].written_at >= back_at for r in down + after)
    # Nothing left behind: no spool file, no temp file, nothing refused into bad/.
    assert store.spooled() == []
    assert sorted(p.name for p in spool.iterdir()) == []
