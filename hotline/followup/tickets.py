"""The ticket side of the automated survey (回访): the join between the survey dialer
(dialer.py) and the work-order lifecycle (hotline/tickets/lifecycle.py, rule 5).

The lifecycle decides which orders wait for a survey and what an answer does
(``TicketService.surveys_due`` / ``record_survey``): an order is due when it is ``reviewed``, or
``callback_done`` with the citizen unreachable so far and fewer than ``max_attempts`` attempts,
the last one at least ``retry_s`` ago. Every phone survey is recorded ``method="automated"`` by
``SURVEY_ACTOR`` with the survey call's id (a person's survey is ``method="human"`` under their
own account); the answer's keys map as

    satisfied / basic / unsatisfied  -> outcome satisfied / basically_satisfied / unsatisfied
    solved yes / no                  -> solved True / False (unsatisfied or not solved: redo
                                        under supervision, the lifecycle's rule)
    no answer (not reached, no keys) -> outcome unreachable, one attempt

Orders merged into another (``inform_pending``) are left to people for now: telling a caller
the lead order's result needs that result spoken, which the IVR has no voice for.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from hotline.followup.flows import SurveyAnswer
from hotline.tickets.lifecycle import SurveyOutcome, TicketState
from hotline.tickets.service import TicketService

log = logging.getLogger(__name__)

SURVEY_ACTOR = "survey-ivr"
OUTCOMES: dict[str, SurveyOutcome] = {
    "satisfied": "satisfied",
    "basic": "basically_satisfied",
    "unsatisfied": "unsatisfied",
}


def survey_note(answer: SurveyAnswer) -> str:
    solved = "-" if answer.solved is None else ("yes" if answer.solved else "no")
    return f"ivr satisfaction={answer.satisfaction} solved={solved}"


class TicketSurveys:
    """``hotline.followup.dialer.SurveyTickets`` on the ticket service (synchronous)."""

    def __init__(self, tickets: TicketService, retry_s: float, max_attempts: int) -> None:
        self._tickets = tickets
        self._spacing = timedelta(seconds=retry_s)
        self._max_attempts = max_attempts

    def to_survey(self, limit: int) -> list[tuple[str, str]]:
        due = self._tickets.surveys_due(
            spacing=self._spacing, max_attempts=self._max_attempts, limit=limit
        )
        return [
            (t.number, t.caller_number)
            for t in due
            if t.state != TicketState.INFORM_PENDING and t.caller_number
        ]

    def answered(self, ticket: str, answer: SurveyAnswer, call_id: str, at: datetime) -> None:
        self._tickets.record_survey(
            ticket, outcome=OUTCOMES[answer.satisfaction], solved=answer.solved,
            method="automated", call_id=call_id, actor=SURVEY_ACTOR, note=survey_note(answer),
            at=at,
        )  # fmt: skip
        log.info("ticket %s: phone survey %s (solved %s)", ticket, answer.satisfaction,
                 answer.solved)  # fmt: skip

    def not_reached(self, ticket: str, call_id: str, at: datetime) -> None:
        self._tickets.record_survey(
            ticket, outcome="unreachable", solved=None, method="automated", call_id=call_id,
            actor=SURVEY_ACTOR, note="ivr: no answer", at=at,
        )  # fmt: skip
        log.info("ticket %s: the survey call reached nobody", ticket)
