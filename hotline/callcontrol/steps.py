"""The steps of a call taken from the desktop, kept on the call's record (table ``call_steps``).

Every control the agent or a supervisor uses on a call (hold, resume, hang-up, blind or
attended transfer, emergency transfer, three-way started / joined / left / dropped, listen,
whisper, barge) is one step: written to the table (the call's record of what happened, read
with ``GET /desk/api/calls/<call_id>/steps``), sent to the agent's desktops and published on
MQTT as ``<prefix>/calls/<call_id>/step``. A step that cannot be written (database away) is
logged and still sent: the call goes on whatever the database does.

The linked ticket does not get the steps: the ticket store has no free-text event to append
(its events are lifecycle transitions only).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.base.db import lease_engine
from hotline.desk.models import CallStepRow

log = logging.getLogger(__name__)

STEPS = frozenset(
    {
        "hold", "resume", "hangup", "blind_transfer", "emergency_transfer",
        "threeway_started", "threeway_joined", "threeway_failed", "threeway_left",
        "threeway_dropped", "consult_started", "consult_answered", "transfer_completed",
        "consult_cancelled", "listen", "whisper", "barge",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CallStep:
    call_id: str
    agent_id: str
    step: str
    at: datetime
    detail: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ValueError(f"step: {self.step!r} is not a call step")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "step",
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "step": self.step,
            "at": self.at.timestamp(),
            "detail": dict(self.detail),
        }


class StepStore:
    """Synchronous (SQLAlchemy); the recorder calls it from a worker thread."""

    def __init__(self, url: str) -> None:
        self._lease = lease_engine(url)  # the process's one engine (one pool) for the URL
        self.engine = self._lease.engine

    def dispose(self) -> None:
        self._lease.release()

    def add(self, step: CallStep) -> None:
        row = CallStepRow(
            call_id=step.call_id,
            at=step.at,
            agent_id=step.agent_id,
            step=step.step,
            detail=json.dumps(step.detail, ensure_ascii=False, sort_keys=True),
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)

    def of_call(self, call_id: str) -> list[CallStep]:
        query = select(CallStepRow).where(CallStepRow.call_id == call_id).order_by(CallStepRow.id)
        with Session(self.engine) as session:
            return [
                CallStep(r.call_id, r.agent_id, r.step, r.at, json.loads(r.detail or "{}"))
                for r in session.scalars(query)
            ]


class StepRecorder:
    """Records a step everywhere it goes; never raises into the call control that took it."""

    def __init__(
        self,
        store: StepStore | None,
        to_agent: Callable[[str, dict[str, Any]], None],
        publish: Callable[[tuple[str, ...], dict[str, Any]], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._to_agent = to_agent
        self._publish = publish
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._order: asyncio.Lock | None = None  # one write at a time, in the steps' order

    def record(self, call_id: str, agent_id: str, step: str, **detail: str) -> CallStep:
        done = CallStep(call_id, agent_id, step, self._clock(), detail)
        log.info("call %s (agent %s): %s %s", call_id, agent_id, step, detail or "")
        self._to_agent(agent_id, done.to_json())
        if self._publish is not None:
            try:
                self._publish(("calls", call_id, "step"), done.to_json())
            except Exception as exc:  # MQTT is for watchers; the call goes on
                log.warning("step of %s not published: %s", call_id, exc)
        if self._store is not None:
            task = asyncio.ensure_future(self._write(done))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return done

    async def _write(self, step: CallStep) -> None:
        assert self._store is not None
        if self._order is None:
            self._order = asyncio.Lock()
        try:
            async with self._order:  # waiters get it first come, first served
                await asyncio.to_thread(self._store.add, step)
        except Exception as exc:
            log.error("step %s of call %s not written: %s", step.step, step.call_id, exc)

    async def flush(self) -> None:
        """Wait for the writes under way (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
