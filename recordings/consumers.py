"""Recordings' events in: a call's recording started (AMI), a call ended, a voicemail became a
ticket; and the periodic purge. Never blocks AMI handling: events are queued and one worker
writes them (the database calls run in a thread).

A recording's size is read once its file is complete: MixMonitor closes the file just after the
agent leg hangs up, so the worker waits until two looks ``settle_s`` apart agree. Once an hour
(``purge_every_s``, and at start) files without a row are adopted and expired audio is removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from acd.ami.events import RecordingStarted
from recordings.recording_services import RecordingService
from recordings.store import Recording
from recordings.voicemail import VoicemailMessage
from tickets.records import CallRecord
from tickets.ticket_types import TicketRecord

log = logging.getLogger(__name__)


class RecordingKeeper:
    def __init__(
        self,
        service: RecordingService,
        *,
        purge_every_s: float = 3600.0,
        settle_s: float = 1.0,
        retry_s: float = 30.0,
        attempts: int = 5,
        notify: Callable[[Recording, str], None] | None = None,
    ) -> None:
        self.service = service
        self._notify = notify  # MQTT: a recording started / finished
        self._purge_every_s = purge_every_s
        self._settle_s = settle_s
        self._retry_s = retry_s
        self._attempts = attempts
        self._queue: asyncio.Queue[RecordingStarted | CallRecord] = asyncio.Queue()
        self.stored = 0
        self.failures = 0

    # -- events in (never block) ------------------------------------------------------------

    def recording_started(self, event: RecordingStarted) -> None:
        self._queue.put_nowait(event)

    def call_ended(self, record: CallRecord) -> None:
        if record.answered_at is not None:
            self._queue.put_nowait(record)

    async def voicemail_ticket(self, msg: VoicemailMessage, ticket: TicketRecord) -> None:
        left_at = datetime.fromisoformat(msg.left_at) if msg.left_at else None
        if left_at is not None and left_at.tzinfo is None:
            left_at = left_at.replace(tzinfo=UTC)
        await asyncio.to_thread(
            self.service.voicemail_taken, msg.call_id, msg.file, ticket.number, left_at
        )

    # -- the worker -------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            item = await self._queue.get()
            for attempt in range(1, self._attempts + 1):
                try:
                    await self._handle(item)
                    break
                except Exception as exc:  # the database is away: try again a few times
                    self.failures += 1
                    if attempt == self._attempts:
                        log.error("recording metadata lost for %r: %s", item, exc)
                    else:
                        log.warning("recording metadata not stored (%s); retrying", exc)
                        await asyncio.sleep(self._retry_s)

    async def _handle(self, item: RecordingStarted | CallRecord) -> None:
        if isinstance(item, RecordingStarted):
            rec = await asyncio.to_thread(
                self.service.started,
                item.kind,
                item.path,
                item.call_id,
                item.agent_id,
                datetime.fromtimestamp(item.at, UTC),
            )
            self.stored += 1
            self._tell(rec, "started")
            return
        await self._settle(item.unique_id)
        for rec in await asyncio.to_thread(self.service.finish_call, item.unique_id, item.ended_at):
            self._tell(rec, "finished")

    def _tell(self, rec: Recording, state: str) -> None:
        if self._notify is None:
            return
        try:
            self._notify(rec, state)
        except Exception:  # the event is a courtesy: the row is stored either way
            log.exception("recording event not published for %s", rec.path)

    async def _settle(self, call_id: str) -> None:
        """Wait (a few seconds at most) until the call's files stop growing."""
        recs = await asyncio.to_thread(self.service.store.for_call, call_id)
        last: list[int | None] = []
        for _ in range(10):
            await asyncio.sleep(self._settle_s)
            sizes = [await asyncio.to_thread(self.service.file_size, r) for r in recs]
            if sizes == last:
                return
            last = sizes

    async def run_purge(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.service.adopt_orphans)
                await asyncio.to_thread(self.service.purge)
            except Exception:  # e.g. the database is away: next round
                log.exception("recordings purge failed; next try in %.0f s", self._purge_every_s)
            await asyncio.sleep(self._purge_every_s)
