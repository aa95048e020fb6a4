"""The night-shift review of voicemail, live: the queue from the ticket store, and calling a
citizen back through Asterisk (the reviewer's phone first, then the citizen).

The rules are in hotline/voicemail/review.py. A callback is one AMI Originate of the reviewer's seat
into ``hotline-review-callback`` (asterisk-config/extensions.conf), which then dials the
citizen (``acd.callback_dial``). Asterisk reports how the citizen's leg went with the user event
``HotlineReviewCallback`` (``Outcome`` = DIALSTATUS, or ANSWER when the citizen picked up); a
reviewer who does not pick up is the Originate's failure and costs no attempt. Every attempt is
a row of the call record's callback attempts (``callback_attempts``: call id = the voicemail
call's id), so the history survives restarts and lands beside the call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any

from hotline.asterisk.ami.client import AmiActionError, AmiClient
from hotline.base.db import CallRecordStore
from hotline.calls.service import CallRecordService
from hotline.tickets.lifecycle import TicketState
from hotline.tickets.service import TicketService
from hotline.tickets.values import HandlingType, TicketRecord, Viewer
from hotline.tickets.workdays import WorkCalendar
from hotline.voicemail.review import Attempt, ReviewItem, Waiting, review_queue

log = logging.getLogger(__name__)

# DIALSTATUS of the citizen's leg -> the attempt's outcome (review.CALLBACK_OUTCOMES).
OUTCOMES = {"ANSWER": "reached", "NOANSWER": "no_answer", "BUSY": "busy"}
REVIEWER_NO_ANSWER = "reviewer_no_answer"
PLATFORM = Viewer(role="agent")


class ReviewError(ValueError):
    """A request the review cannot carry out (unknown ticket, not awaiting review)."""


class ReviewSeatError(ValueError):
    """The reviewer's seat is not a configured dial string (``Config.seats``)."""


class VoicemailReview:
    def __init__(
        self,
        tickets: TicketService,
        records: CallRecordService,
        ami: AmiClient,
        *,
        review_by: time,
        max_attempts: int,
        calendar: WorkCalendar,
        callback_dial: str,
        ring_s: float,
        clock: Callable[[], float],
        seats: frozenset[str] = frozenset(),
    ) -> None:
        self._seats = seats  # the only dial strings a call-back may ring (full match)
        self._tickets = tickets
        self._records = records
        self._ami = ami
        self._review_by = review_by
        self._max_attempts = max_attempts
        self._calendar = calendar
        self._dial = callback_dial
        self._ring_s = ring_s
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _store(self) -> CallRecordStore:
        return self._records.store

    async def queue(self) -> list[ReviewItem]:
        return await asyncio.to_thread(self._queue)

    def _queue(self) -> list[ReviewItem]:
        states = frozenset({TicketState.VOICEMAIL_REVIEW})
        waiting = [
            self._waiting(t) for t in self._tickets.tickets(PLATFORM, states=states, limit=1000)
        ]
        now = datetime.fromtimestamp(self._clock(), UTC)
        return review_queue(
            waiting,
            now,
            review_by=self._review_by,
            calendar=self._calendar,
            max_attempts=self._max_attempts,
        )

    def _waiting(self, ticket: TicketRecord) -> Waiting:
        call_id = ticket.calls[0] if ticket.calls else ""
        record = self._store.get(call_id) if call_id else None
        tries = self._store.attempts(call_id) if call_id else []
        attempts = tuple(
            Attempt(at=a["placed_at"], outcome=a["outcome"])
            for a in tries
            if a["outcome"] in OUTCOMES.values() or a["outcome"] == "failed"
        )
        return Waiting(
            ticket=ticket.number,
            caller=ticket.caller_number,
            left_at=record.arrived_at if record is not None else ticket.created_at,
            call_id=call_id,
            ivr_path=record.ivr_path if record is not None else "",
            transcript=ticket.description,
            recording=ticket.recordings[0] if ticket.recordings else "",
            attempts=attempts,
            emergency=ticket.handling_type == HandlingType.EMERGENCY,
        )

    async def call_back(self, number: str, reviewer: str, seat: str) -> dict[str, Any]:
        """Ring the reviewer's seat; when they answer, dial the citizen. The attempt's row."""
        if seat not in self._seats:
            raise ReviewSeatError(
                f"seat {seat[:80]!r} is not a configured dial string (agents.seat, acd.seats)"
            )
        ticket = await asyncio.to_thread(self._tickets.get, number, PLATFORM)
        if ticket.state != TicketState.VOICEMAIL_REVIEW:
            raise ReviewError(f"ticket {number} is {ticket.state}, not awaiting review")
        if not ticket.caller_number or not ticket.calls:
            raise ReviewError(f"ticket {number} has no caller number to call back")
        call_id = ticket.calls[0]
        attempt = len(await asyncio.to_thread(self._store.attempts, call_id)) + 1
        await self._records.attempt_placed(call_id, attempt, reviewer, ticket.caller_number)
        action = {
            "Action": "Originate",
            "Channel": seat,
            "Context": "hotline-review-callback",
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(int(self._ring_s * 1000)),
            "CallerID": f'"12345" <{ticket.caller_number}>',
            "Async": "true",
            "Variable": [
                f"HOTLINE_REVIEW_CALL={call_id}",
                f"HOTLINE_REVIEW_ATTEMPT={attempt}",
                f"HOTLINE_REVIEW_DIAL={self._dial.format(number=ticket.caller_number)}",
                f"HOTLINE_REVIEW_RING={int(self._ring_s)}",
            ],
        }
        task = asyncio.ensure_future(self._originate(call_id, attempt, action))
        self._tasks.add(task)  # kept until done: a dropped task could be collected mid-call
        task.add_done_callback(self._tasks.discard)
        return {"ticket": number, "call_id": call_id, "attempt": attempt}

    async def _originate(self, call_id: str, attempt: int, action: dict[str, Any]) -> None:
        reason = ""
        try:
            response = await self._ami.send(action, timeout_s=self._ring_s + 10)
            final = response[-1] if isinstance(response, list) else response
            if str(final.get("Response", "")).lower() != "success":
                reason = f"reviewer did not answer (reason {final.get('Reason', '?')})"
        except AmiActionError as exc:
            reason = str(exc)
        if reason:
            log.info("review callback %s/%d: %s", call_id, attempt, reason)
            await self._records.attempt_result(call_id, attempt, REVIEWER_NO_ANSWER, reason)

    async def result(self, call_id: str, attempt: int, dial_status: str) -> None:
        """Asterisk's word on the citizen's leg (``HotlineReviewCallback``)."""
        outcome = OUTCOMES.get(dial_status.upper(), "failed")
        await self._records.attempt_result(call_id, attempt, outcome, dial_status)
