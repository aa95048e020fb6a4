"""Recordings' events in: a call's recording started (AMI), a call ended, a voicemail became a
ticket; and the periodic purge. Never blocks AMI handling, and never holds an event only in
memory: each one goes to the durable journal (``hotline/recordings/journal.py``) first, and leaves
it
once its row is in the store; an engine started again finishes what the last one left.

A recording's row is written as soon as its start is on disk. Its size is read once the file is
complete: MixMonitor closes the file just after the agent leg hangs up, so a call's recordings
are finished when two looks ``settle_s`` apart agree. The looks are made for every ended call
in one pass per ``settle_s``: calls ending together are finished together (one serial worker
sleeping two seconds per call fell behind from 50 concurrent calls). Once an hour
(``purge_every_s``, and at start) files without a row are adopted, rows whose end was never
seen are finished, and expired audio is removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hotline.asterisk.ami.events import RecordingStarted
from hotline.calls.records import CallRecord
from hotline.recordings.files import BadRecordingPath
from hotline.recordings.journal import Ended, Entry, RecordingJournal, Started
from hotline.recordings.service import RecordingService
from hotline.recordings.store import Recording
from hotline.tickets.values import TicketRecord
from hotline.voicemail.rules import VoicemailMessage

log = logging.getLogger(__name__)


@dataclass
class _Looks:
    """An ended call's files as last seen (sizes), and how many looks so far."""

    sizes: list[int | None] = field(default_factory=list)
    count: int = 0


class RecordingKeeper:
    def __init__(
        self,
        service: RecordingService,
        journal: RecordingJournal | Path | str,
        *,
        purge_every_s: float = 3600.0,
        settle_s: float = 1.0,
        max_looks: int = 10,
        retry_s: float = 30.0,
        notify: Callable[[Recording, str], None] | None = None,
    ) -> None:
        self.service = service
        self.journal = (
            journal if isinstance(journal, RecordingJournal) else RecordingJournal(journal)
        )
        self._notify = notify  # MQTT: a recording started / finished
        self._purge_every_s = purge_every_s
        self._settle_s = settle_s
        self._max_looks = max_looks  # a file still growing after this many looks is taken as is
        self._retry_s = retry_s
        self._incoming: asyncio.Queue[Entry] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._looks: dict[str, _Looks] = {}
        self._loaded = asyncio.Event()
        self.stored = 0
        self.finished = 0
        self.failures = 0

    # -- events in (never block) ------------------------------------------------------------

    def recording_started(self, event: RecordingStarted) -> None:
        at = datetime.fromtimestamp(event.at, UTC)
        self._incoming.put_nowait(
            Started(event.kind, event.path, event.call_id, event.agent_id or None, at)
        )

    def call_ended(self, record: CallRecord) -> None:
        if record.answered_at is not None:
            self._incoming.put_nowait(Ended(record.unique_id, record.ended_at))

    def backlog(self) -> int:
        """Events not yet in the store: on disk, or (for milliseconds) on their way there."""
        return len(self.journal) + self._incoming.qsize()

    async def voicemail_ticket(self, msg: VoicemailMessage, ticket: TicketRecord) -> None:
        left_at = datetime.fromisoformat(msg.left_at) if msg.left_at else None
        if left_at is not None and left_at.tzinfo is None:
            left_at = left_at.replace(tzinfo=UTC)
        await asyncio.to_thread(
            self.service.voicemail_taken, msg.call_id, msg.file, ticket.number, left_at
        )

    # -- the workers ------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(self._write_to_disk(), self._work())

    async def _write_to_disk(self) -> None:
        """Events to the journal in batches (one directory fsync per batch), in arrival order."""
        await self._loaded.wait()  # the journal's own view of the disk comes first
        while True:
            batch = [await self._incoming.get()]
            while not self._incoming.empty():
                batch.append(self._incoming.get_nowait())
            while True:
                try:
                    await asyncio.to_thread(self.journal.add, *batch)
                    break
                except OSError as exc:  # disk full? keep them in memory and say so loudly
                    self.failures += 1
                    log.error(
                        "%d recording events not written to %s (%s); retrying",
                        len(batch),
                        self.journal.directory,
                        exc,
                    )
                    await asyncio.sleep(self._retry_s)
            self._wake.set()

    async def _work(self) -> None:
        left = await asyncio.to_thread(self.journal.load)
        self._loaded.set()
        if left:
            log.info("recordings: %d events left by the last run, finishing them", len(left))
        while True:
            self._wake.clear()
            try:
                await self._pass()
            except Exception as exc:  # the database is away: the events wait on disk
                self.failures += 1
                log.warning(
                    "recording metadata not stored (%s); %d events wait in %s, retry in %.0f s",
                    exc,
                    len(self.journal),
                    self.journal.directory,
                    self._retry_s,
                )
                await asyncio.sleep(self._retry_s)
                continue
            try:  # new starts are written at once; ended calls are looked at every settle_s
                await asyncio.wait_for(self._wake.wait(), self._settle_s)
            except TimeoutError:
                pass

    async def _pass(self) -> None:
        entries = self.journal.entries()
        starts = [e for e in entries if isinstance(e, Started)]
        if starts:
            for rec in await asyncio.to_thread(self._store_starts, starts):
                self._tell(rec, "started")
        waiting = {e.call_id for e in self.journal.entries() if isinstance(e, Started)}
        ends = [e for e in entries if isinstance(e, Ended) and e.call_id not in waiting]
        if ends:
            for rec in await asyncio.to_thread(self._look, ends):
                self._tell(rec, "finished")

    def _store_starts(self, starts: list[Started]) -> list[Recording]:
        """In a worker thread: one row per start (idempotent on the path)."""
        stored = []
        for entry in starts:
            try:
                rec = self.service.started(
                    entry.kind, entry.path, entry.call_id, entry.agent_id, entry.at
                )
            except (BadRecordingPath, ValueError) as exc:  # never storable: kept for a person
                self.journal.reject(entry, str(exc))
                continue
            self.journal.done(entry)
            self.stored += 1
            stored.append(rec)
        return stored

    def _look(self, ends: list[Ended]) -> list[Recording]:
        """In a worker thread: one look at every ended call's files; the calls whose files did
        not change since the last look are finished."""
        finished = []
        for entry in ends:
            looks = self._looks.setdefault(entry.call_id, _Looks())
            recs = self.service.store.for_call(entry.call_id)
            sizes = [self.service.file_size(r) for r in recs]
            looks.count += 1
            if looks.count < 2 or (sizes != looks.sizes and looks.count < self._max_looks):
                looks.sizes = sizes
                continue
            finished.extend(self.service.finish_call(entry.call_id, entry.ended_at))
            self.journal.done(entry)
            self._looks.pop(entry.call_id, None)
            self.finished += 1
        return finished

    def _tell(self, rec: Recording, state: str) -> None:
        if self._notify is None:
            return
        try:
            self._notify(rec, state)
        except Exception:  # the event is a courtesy: the row is stored either way
            log.exception("recording event not published for %s", rec.path)

    async def run_purge(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.service.adopt_orphans)
                await asyncio.to_thread(self.service.finish_unended)
                await asyncio.to_thread(self.service.purge)
            except Exception:  # e.g. the database is away: next round
                log.exception("recordings purge failed; next try in %.0f s", self._purge_every_s)
            await asyncio.sleep(self._purge_every_s)
