"""The survey dialer (回访): the engine calls the citizen of a reviewed ticket and an IVR asks
for the rating (flows.py ``SurveyFlow``); the answer goes to the ticket's lifecycle.

Rules:
* Only within ``[survey] hours`` on working days (China time, the centre's calendar): nobody is
  called at night or on a holiday.
* Which tickets are due is the lifecycle's word (``SurveyTickets.to_survey``: reviewed, or not
  reached so far with fewer than ``max_attempts`` attempts, ``retry_s`` apart). Every call that
  ends without an answer (no answer, busy, failed, or answered without usable keys) is one
  attempt, recorded as not reached; an answer is recorded with its keys.
* One call per ticket at a time; at most ``max_parallel`` survey calls at once. Every attempt is
  also a row of ``survey_calls`` (SurveyLog).
* The number is dialled only if it is a phone number (full match), the ticket number only if it
  is one, and the dial string comes from the configuration (``[survey] dial``, checked at start).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any, Protocol

from hotline.asterisk.ami.client import originate
from hotline.base.daytypes import CENTRE_TZ
from hotline.base.settings import PHONE_NUMBER, SurveyConfig
from hotline.followup.flows import TICKET, SurveyAnswer, SurveyCall

log = logging.getLogger(__name__)

# OriginateResponse Reason codes (Asterisk's AST_CONTROL_*): how an unanswered call ended.
ORIGINATE_REASONS = {"3": "no_answer", "5": "busy", "8": "failed", "1": "no_answer", "0": "failed"}
HANG_ON_S = 600.0  # a call still in flight after this long is forgotten (its AGI never ended)


class SurveyTickets(Protocol):
    """The ticket side (synchronous: called from a worker thread)."""

    def to_survey(self, limit: int) -> list[tuple[str, str]]:
        """(ticket number, caller number) of tickets waiting for their survey."""
        ...

    def answered(self, ticket: str, answer: SurveyAnswer, call_id: str, at: datetime) -> None: ...

    def not_reached(self, ticket: str, call_id: str, at: datetime) -> None: ...


class SurveyLog(Protocol):
    """Where the attempts are kept (hotline/followup/store.py, table ``survey_calls``)."""

    def survey_attempts(self, ticket: str) -> list[dict[str, Any]]: ...

    def survey_placed(self, ticket: str, number: str, at: datetime) -> int: ...

    def survey_ended(
        self, ticket: str, attempt: int, outcome: str, at: datetime,
        satisfaction: str = "", solved: bool | None = None,
    ) -> None: ...  # fmt: skip


class Ami(Protocol):
    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any: ...


def _spans(hours: list[str]) -> list[tuple[dtime, dtime]]:
    out = []
    for span in hours:
        lo, hi = span.split("-")
        end = dtime.max if hi == "24:00" else dtime.fromisoformat(hi)
        out.append((dtime.fromisoformat(lo), end))
    return out


class SurveyDialer:
    def __init__(
        self,
        cfg: SurveyConfig,
        tickets: SurveyTickets,
        log_: SurveyLog,
        ami: Ami,
        is_workday: Callable[[date], bool],
        clock: Callable[[], float] = time.time,
        max_parallel: int = 2,
    ) -> None:
        self._cfg = cfg
        self._tickets = tickets
        self._log = log_
        self._ami = ami
        self._is_workday = is_workday
        self._clock = clock
        self._spans = _spans(cfg.hours)
        self._max_parallel = max_parallel
        self.in_flight: dict[str, float] = {}  # ticket -> when its call was placed
        self._tasks: set[asyncio.Task[None]] = set()

    def in_hours(self, now: datetime) -> bool:
        local = now.astimezone(CENTRE_TZ)
        if self._cfg.workdays_only and not self._is_workday(local.date()):
            return False
        return any(lo <= local.time() < hi for lo, hi in self._spans)

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a survey must never stop the engine
                log.exception("survey dialer round failed")
            await asyncio.sleep(self._cfg.poll_s)

    async def tick(self) -> list[str]:
        """One round: place the calls that are due; the tickets called."""
        now_ts = self._clock()
        now = datetime.fromtimestamp(now_ts, UTC)
        for ticket, since in list(self.in_flight.items()):
            if now_ts - since > HANG_ON_S:
                self.in_flight.pop(ticket, None)
        if not self._cfg.enabled or not self.in_hours(now):
            return []
        waiting = await asyncio.to_thread(self._tickets.to_survey, 100)
        placed: list[str] = []
        for ticket, number in waiting:
            if len(self.in_flight) >= self._max_parallel:
                break
            if ticket in self.in_flight:
                continue
            try:  # one ticket the lifecycle refuses must not hold up the others
                if await self._due(ticket, number, now):
                    await self._place(ticket, number, now)
                    placed.append(ticket)
            except Exception:
                log.exception("survey of ticket %s not placed", ticket)
        return placed

    async def _due(self, ticket: str, number: str, now: datetime) -> bool:
        tries = await asyncio.to_thread(self._log.survey_attempts, ticket)
        for t in tries:  # a call whose end was never heard (engine restarted): it failed
            if t["outcome"] == "placed" and now - t["placed_at"] > timedelta(seconds=HANG_ON_S):
                await asyncio.to_thread(self._log.survey_ended, ticket, t["attempt"], "failed", now)
                await asyncio.to_thread(self._tickets.not_reached, ticket, "", now)
                return False
        if not PHONE_NUMBER.fullmatch(number) or not TICKET.fullmatch(ticket):
            log.warning("ticket %r: caller number %r cannot be dialled", ticket[:32], number[:32])
            return False
        return True

    async def _place(self, ticket: str, number: str, now: datetime) -> None:
        attempt = await asyncio.to_thread(self._log.survey_placed, ticket, number, now)
        self.in_flight[ticket] = self._clock()
        channel = self._cfg.dial.format(number=number)
        variables = [f"HOTLINE_SURVEY_TICKET={ticket}", f"HOTLINE_SURVEY_ATTEMPT={attempt}"]
        log.info("survey of ticket %s: attempt %d to %s", ticket, attempt, number)
        task = asyncio.ensure_future(self._originate(ticket, attempt, channel, variables))
        self._tasks.add(task)  # kept until done: a dropped task could be collected mid-call
        task.add_done_callback(self._tasks.discard)

    async def _originate(
        self, ticket: str, attempt: int, channel: str, variables: list[str]
    ) -> None:
        outcome = ""
        try:
            rang = await originate(
                self._ami, channel, "hotline-survey", ring_s=self._cfg.ring_s,
                caller=("12345", "12345"), variables=variables,
            )  # fmt: skip
            if not rang.answered:
                outcome = ORIGINATE_REASONS.get(rang.reason, "failed")
        except Exception as exc:  # AMI away, time-out: the attempt failed
            log.info("survey call of %s not placed: %s", ticket, exc)
            outcome = "failed"
        if outcome:
            at = datetime.fromtimestamp(self._clock(), UTC)
            try:
                await asyncio.to_thread(self._log.survey_ended, ticket, attempt, outcome, at)
                await asyncio.to_thread(self._tickets.not_reached, ticket, "", at)
            except Exception:
                log.exception("survey attempt %d of %s not kept", attempt, ticket)
            finally:
                self.in_flight.pop(ticket, None)

    async def done(self, call: SurveyCall, answer: SurveyAnswer | None) -> None:
        """The survey IVR ended (``SurveyFlow``): keep the attempt, move the ticket."""
        at = datetime.fromtimestamp(self._clock(), UTC)
        self.in_flight.pop(call.ticket, None)
        try:
            if answer is None:
                await asyncio.to_thread(
                    self._log.survey_ended, call.ticket, call.attempt, "incomplete", at
                )
                await asyncio.to_thread(self._tickets.not_reached, call.ticket, call.call_id, at)
                return
            await asyncio.to_thread(
                self._log.survey_ended, call.ticket, call.attempt, "answered", at,
                answer.satisfaction, answer.solved,
            )  # fmt: skip
            await asyncio.to_thread(self._tickets.answered, call.ticket, answer, call.call_id, at)
        except Exception:
            log.exception("survey answer of %s not kept", call.ticket)

    async def flush(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
