"""Async face of the call-record store for the engine: writes off the event loop, spool flusher."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from hotline.base.db import CallRecordStore
from hotline.calls.records import CallRecord

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class CallRecordService:
    def __init__(self, store: CallRecordStore) -> None:
        self.store = store

    async def record(self, rec: CallRecord) -> str:
        """Store ``rec``: "written", "duplicate", "spooled", or "lost" if even the spool failed.

        Database I/O and fsync block, so they run in a worker thread: a slow database must not
        stall AMI event handling for the calls still in progress.
        """
        try:
            result: str = await asyncio.to_thread(self.store.write, rec)
        except Exception:
            # Last resort (disk full, spool unwritable): the log line carries the whole record
            # so it can still be re-entered by hand.
            log.exception(
                "call record %s LOST (neither stored nor spooled): %s",
                rec.unique_id,
                json.dumps(rec.to_json(), ensure_ascii=False),
            )
            return "lost"
        level = logging.DEBUG if result == "written" else logging.INFO
        log.log(level, "call record %s %s", rec.unique_id, result)
        return result

    async def attempt_placed(self, call_id: str, attempt: int, agent_id: str, number: str) -> None:
        await self._attempt(self.store.attempt_placed, call_id, attempt, agent_id, number, _now())

    async def attempt_result(self, call_id: str, attempt: int, outcome: str, reason: str) -> None:
        await self._attempt(self.store.attempt_result, call_id, attempt, outcome, reason, _now())

    async def _attempt(self, fn: Any, *args: Any) -> None:
        # Attempts are also on MQTT (place_callback with its attempt number); a database that
        # is away costs the row, never the callback.
        try:
            await asyncio.to_thread(fn, *args)
        except Exception as exc:
            log.error("callback attempt %s not stored: %s", args[:3], exc)

    async def flush(self) -> int:
        """Move spooled records into the database now; returns how many left the spool."""
        return await asyncio.to_thread(self.store.flush_spool)

    async def run_spool_flusher(self, interval_s: float) -> None:
        """Flush the spool at start and every ``interval_s`` seconds until cancelled."""
        while True:
            try:
                flushed = await self.flush()
                if flushed:
                    log.info("flushed %d spooled call records to the ticket store", flushed)
            except Exception:  # the flusher is the spool's only way out: it must not die
                log.exception("spool flush failed; retrying in %.1f s", interval_s)
            await asyncio.sleep(interval_s)
