"""Recording rows at load, with the real store (SQLite, migrated) and real files: calls ending
together are finished together, and an engine killed (-9) with a backlog loses no row: the
next one finishes them from the on-disk journal (hotline/recordings/journal.py).

The probe at 50 concurrent calls: one serial worker slept ~2 s per ended call, its queue was in
memory, and 554 rows remained of 1,621 recorded calls when the engine stopped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.app.migrate import upgrade
from hotline.asterisk.ami.events import RecordingStarted
from hotline.calls.records import CallRecord
from hotline.recordings.consumer import RecordingKeeper
from hotline.recordings.files import AudioRoots
from hotline.recordings.journal import Ended, RecordingJournal, Started
from hotline.recordings.service import RecordingService
from hotline.recordings.store import Recording, RecordingStore

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordingStore]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    st = RecordingStore(url)
    yield st
    st.dispose()


def roots(tmp_path: Path) -> AudioRoots:
    return AudioRoots(tmp_path / "recordings", tmp_path / "voicemail")


def make_calls(tmp_path: Path, n: int) -> list[tuple[str, str]]:
    """n recorded calls' files on disk: (call id, stored path)."""
    calls = []
    for i in range(n):
        call_id = f"1765000000.{i}"
        stored = f"calls/2026/12/07/{call_id}-10{i % 90 + 10}.wav"
        path = roots(tmp_path).resolve(stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + bytes(1000 + i))
        calls.append((call_id, stored))
    return calls


def started(call_id: str, stored: str) -> RecordingStarted:
    agent = stored.rsplit("-", 1)[1].removesuffix(".wav")
    return RecordingStarted(
        call_id=call_id, agent_id=agent, kind="call", path=stored, at=T0.timestamp()
    )


def ended(call_id: str) -> CallRecord:
    return CallRecord(
        unique_id=call_id,
        linked_id=call_id,
        caller="13800138000",
        dialled="12345",
        arrived_at=T0,
        answered_at=T0 + timedelta(seconds=5),
        ended_at=T0 + timedelta(seconds=65),
        outcome="answered",
    )


def complete(store: RecordingStore, calls: list[tuple[str, str]]) -> list[Recording]:
    rows = [r for call_id, _ in calls for r in store.for_call(call_id)]
    return [r for r in rows if r.ended_at is not None and r.size_bytes]


async def test_calls_ending_together_are_finished_together(
    tmp_path: Path, store: RecordingStore
) -> None:
    calls = make_calls(tmp_path, 120)
    service = RecordingService(store, roots(tmp_path))
    keeper = RecordingKeeper(service, tmp_path / "journal", settle_s=0.25)
    for call_id, stored in calls:
        keeper.recording_started(started(call_id, stored))
    for call_id, _ in calls:
        keeper.call_ended(ended(call_id))
    task = asyncio.ensure_future(keeper.run())
    try:
        # The files do not grow: every call is finished after two looks, whatever their number
        # (the serial worker took 2 looks x settle_s per call: 120 x 0.5 s = 60 s).
        for _ in range(100):
            done = await asyncio.to_thread(complete, store, calls)
            if len(done) == len(calls):
                break
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
    assert len(done) == len(calls), f"{len(done)} of {len(calls)} recordings finished"
    by_call = {r.call_id: r for r in done}
    call_id, stored = calls[7]
    assert by_call[call_id].size_bytes == 1007 + 4
    assert by_call[call_id].ended_at == T0 + timedelta(seconds=65)
    assert by_call[call_id].agent_id == "1017"
    assert keeper.backlog() == 0
    assert not [p for p in (tmp_path / "journal").iterdir() if p.suffix == ".json"]


# The engine's part, in a process of its own that the test kills: the events arrive, the
# starts are stored, the ends wait for their files to settle (a long settle_s keeps them
# waiting), and then -9.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from hotline.recordings.consumer import RecordingKeeper
    from hotline.recordings.service import RecordingService
    from hotline.recordings.store import RecordingStore
    from tests.recordings.test_recording_keeper import ended, make_calls, roots, started

    async def main(tmp: Path, url: str, n: int) -> None:
        calls = make_calls(tmp, n)
        service = RecordingService(RecordingStore(url), roots(tmp))
        keeper = RecordingKeeper(service, tmp / "journal", settle_s=600)
        task = asyncio.ensure_future(keeper.run())
        for call_id, stored in calls:
            keeper.recording_started(started(call_id, stored))
        for call_id, _ in calls:
            keeper.call_ended(ended(call_id))
        while keeper._incoming.qsize():  # handed over (to disk, or to the old worker)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        print("backlog", keeper.backlog(), flush=True)
        await task

    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
    """
)


async def test_an_engine_killed_mid_backlog_loses_no_recording_row(
    tmp_path: Path, store: RecordingStore
) -> None:
    n = 60
    url = str(store.engine.url)
    root = Path(__file__).resolve().parents[2]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path),
        url,
        str(n),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode()
        if not line.startswith("backlog"):
            child.kill()
            raise AssertionError(f"child said {line!r}: {(await child.stderr.read()).decode()}")
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.wait()
    calls = [(f"1765000000.{i}", "") for i in range(n)]
    assert len(complete(store, calls)) < n  # the kill came mid-backlog

    # The next engine: it finishes what the killed one left, from the journal alone.
    keeper = RecordingKeeper(
        RecordingService(store, roots(tmp_path)), tmp_path / "journal", settle_s=0.1
    )
    task = asyncio.ensure_future(keeper.run())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = await asyncio.to_thread(complete, store, calls)
            if len(done) == n:
                break
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
    assert len(done) == n, f"{len(done)} of {n} recordings finished after the restart"
    assert store.count() == n  # one row each, none doubled


def test_the_journal_keeps_bad_entries_aside_and_ignores_half_written_ones(
    tmp_path: Path,
) -> None:
    journal = RecordingJournal(tmp_path / "journal")
    journal.add(Started("call", "calls/2026/12/07/1.1-1001.wav", "1.1", "1001", T0))
    journal.add(Ended("1.1", T0), Ended("1.2", None))
    (tmp_path / "journal" / ".tmp123.tmp").write_text("{half")  # a crash mid-write
    (tmp_path / "journal" / "ended-9.9.json").write_text("{not json")
    again = RecordingJournal(tmp_path / "journal")
    entries = again.load()
    assert sorted(map(repr, entries)) == sorted(map(repr, journal.entries()))
    assert (tmp_path / "journal" / "bad" / "ended-9.9.json").exists()
    again.done(entries[0])
    assert len(RecordingJournal(tmp_path / "journal").load()) == 2


def test_a_recording_whose_end_was_never_seen_is_finished_from_its_file(
    tmp_path: Path, store: RecordingStore
) -> None:
    (call_id, stored), (live_id, live) = make_calls(tmp_path, 2)
    service = RecordingService(store, roots(tmp_path))
    service.started("call", stored, call_id, "1010", T0)
    service.started("call", live, live_id, "1011", T0)
    old = time.time() - 600
    os.utime(roots(tmp_path).resolve(stored), (old, old))  # idle ten minutes: the call ended
    done = service.finish_unended(idle_s=60)
    assert [r.path for r in done] == [stored]
    assert done[0].size_bytes == 1004
    assert done[0].ended_at is not None and abs(done[0].ended_at.timestamp() - old) < 1
    assert store.for_call(live_id)[0].ended_at is None  # still being written: left alone
