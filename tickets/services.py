"""Async face of the call-record store for the engine: writes off the event loop, spool flusher."""

from __future__ import annotations

import asyncio
import json
import logging

from tickets.persistence import CallRecordStore
from tickets.records import CallRecord

log = logging.getLogger(__name__)


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
