"""The handoff records (110/119/120/122 linkage) and survey calls, written and read.

Synchronous (SQLAlchemy): the engine calls it from a worker thread. One row per handoff: it is
written when the handoff starts (service, who, when, why) with outcome ``pending`` and completed
when the leg to the service ends (``finish``), so a handoff whose leg never reports back still
shows, as pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hotline.base.db import lease_engine
from hotline.calls.models import CallRecordRow
from hotline.followup.models import HandoffRow, SurveyCallRow

log = logging.getLogger(__name__)

SERVICES = ("110", "119", "120", "122")
# Dial() says how the leg went; the handoff keeps it in plain words.
DIAL_OUTCOMES = {
    "ANSWER": "answered",
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CANCEL": "cancelled",
    "CONGESTION": "failed",
    "CHANUNAVAIL": "failed",
}


@dataclass(frozen=True)
class Handoff:
    call_id: str
    direction: str
    service: str
    kind: str
    agent_id: str
    at: datetime
    reason: str = ""
    outcome: str = "pending"
    ended_at: datetime | None = None
    double_non: bool = False

    def __post_init__(self) -> None:
        if self.direction not in ("out", "in"):
            raise ValueError(f"direction {self.direction!r} is not out or in")
        if self.service not in SERVICES:
            raise ValueError(f"service {self.service!r} is not one of {', '.join(SERVICES)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "service": self.service,
            "kind": self.kind,
            "agent_id": self.agent_id,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "outcome": self.outcome,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "double_non": self.double_non,
        }


def _handoff(row: HandoffRow) -> Handoff:
    return Handoff(
        row.call_id, row.direction, row.service, row.kind, row.agent_id, row.at,
        row.reason, row.outcome, row.ended_at, bool(row.double_non),
    )  # fmt: skip


class FollowupStore:
    def __init__(self, url: str) -> None:
        self._lease = lease_engine(url)
        self.engine = self._lease.engine

    def dispose(self) -> None:
        self._lease.release()

    # -- handoffs ---------------------------------------------------------------------------
    def add_handoff(self, handoff: Handoff) -> None:
        row = HandoffRow(
            call_id=handoff.call_id[:64], direction=handoff.direction, service=handoff.service,
            kind=handoff.kind[:24], agent_id=handoff.agent_id[:64], at=handoff.at,
            reason=handoff.reason[:200], outcome=handoff.outcome[:24],
            ended_at=handoff.ended_at, double_non=handoff.double_non,
        )  # fmt: skip
        with Session(self.engine) as session, session.begin():
            session.add(row)

    def finish_handoff(self, call_id: str, dial_status: str, at: datetime) -> bool:
        """The latest pending outgoing handoff of the call gets its outcome; False if none."""
        outcome = DIAL_OUTCOMES.get(dial_status.upper(), "failed")
        query = (
            select(HandoffRow)
            .where(HandoffRow.call_id == call_id, HandoffRow.outcome == "pending")
            .order_by(HandoffRow.id.desc())
            .limit(1)
        )
        with Session(self.engine) as session, session.begin():
            row = session.scalars(query).first()
            if row is None:
                return False
            row.outcome, row.ended_at = outcome, at
            return True

    def handoffs(
        self, *, call_id: str | None = None, since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Handoff]:  # fmt: skip
        query = select(HandoffRow).order_by(HandoffRow.id)
        if call_id is not None:
            query = query.where(HandoffRow.call_id == call_id)
        if since is not None:
            query = query.where(HandoffRow.at >= since)
        if until is not None:
            query = query.where(HandoffRow.at < until)
        with Session(self.engine) as session:
            return [_handoff(r) for r in session.scalars(query)]

    def from_110(self, call_ids: Iterable[str]) -> dict[str, bool]:
        """Which of these calls 110 transferred in, each with its 双非 flag (the latest row)."""
        wanted = list(call_ids)
        if not wanted:
            return {}
        query = (
            select(HandoffRow.call_id, HandoffRow.double_non)
            .where(HandoffRow.call_id.in_(wanted), HandoffRow.direction == "in")
            .order_by(HandoffRow.id)
        )
        with Session(self.engine) as session:
            return {call_id: bool(flag) for call_id, flag in session.execute(query)}

    def set_double_non(self, call_id: str, flag: bool) -> bool:
        """A supervisor's judgement of a call from 110: the handoff row the report counts and
        the call's record, in one transaction; False when 110 did not transfer that call."""
        with Session(self.engine) as session, session.begin():
            done = session.execute(
                update(HandoffRow)
                .where(HandoffRow.call_id == call_id, HandoffRow.direction == "in")
                .values(double_non=flag)
            )
            if not getattr(done, "rowcount", 0):
                return False
            session.execute(
                update(CallRecordRow)
                .where(CallRecordRow.unique_id == call_id)
                .values(double_non=flag)
            )
            return True

    # -- survey calls -----------------------------------------------------------------------
    def survey_attempts(self, ticket: str) -> list[dict[str, Any]]:
        query = select(SurveyCallRow).where(SurveyCallRow.ticket == ticket)
        with Session(self.engine) as session:
            return [
                {
                    "attempt": r.attempt, "number": r.number, "placed_at": r.placed_at,
                    "outcome": r.outcome, "satisfaction": r.satisfaction, "solved": r.solved,
                    "ended_at": r.ended_at,
                }
                for r in session.scalars(query.order_by(SurveyCallRow.attempt))
            ]  # fmt: skip

    def survey_placed(self, ticket: str, number: str, at: datetime) -> int:
        """A new attempt's row; its number (1, 2, ...)."""
        with Session(self.engine) as session, session.begin():
            last = session.scalar(
                select(func.max(SurveyCallRow.attempt)).where(SurveyCallRow.ticket == ticket)
            )
            attempt = int(last or 0) + 1
            session.add(
                SurveyCallRow(
                    ticket=ticket, attempt=attempt, number=number[:32], placed_at=at,
                    outcome="placed", satisfaction="", solved=None,
                )
            )  # fmt: skip
            return attempt

    def survey_ended(
        self, ticket: str, attempt: int, outcome: str, at: datetime,
        satisfaction: str = "", solved: bool | None = None,
    ) -> None:  # fmt: skip
        query = select(SurveyCallRow).where(
            SurveyCallRow.ticket == ticket, SurveyCallRow.attempt == attempt
        )
        with Session(self.engine) as session, session.begin():
            row = session.scalars(query).first()
            if row is None or row.outcome not in ("placed", "incomplete"):
                return  # already settled (the IVR's answer beats the Originate's late word)
            row.outcome, row.ended_at = outcome[:24], at
            row.satisfaction, row.solved = satisfaction[:16], solved


class HandoffLog:
    """The live side: handoffs are written in the background, in the order they happen, and
    never hold up the call that made them (a failed write is logged)."""

    def __init__(self, store: FollowupStore, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self._clock = clock or (lambda: datetime.now(UTC))
        self._order: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return self._clock()

    def opened(self, handoff: Handoff) -> None:
        log.info(
            "handoff %s %s of call %s by %s (%s)", handoff.direction, handoff.service,
            handoff.call_id, handoff.agent_id, handoff.kind,
        )  # fmt: skip
        self._spawn(self.store.add_handoff, handoff)

    def ended(self, call_id: str, dial_status: str) -> None:
        self._spawn(self.store.finish_handoff, call_id, dial_status, self._clock())

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        task = asyncio.ensure_future(self._write(fn, *args))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._order is None:
            self._order = asyncio.Lock()
        try:
            async with self._order:  # a handoff's end never overtakes its start
                await asyncio.to_thread(fn, *args)
        except Exception as exc:
            log.error("handoff record not written: %s", exc)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
