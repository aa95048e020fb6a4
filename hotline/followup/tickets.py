"""The ticket side of the automated survey (回访): the join point between the survey dialer
(hotline/followup/dialer.py) and the work-order lifecycle (hotline/tickets/lifecycle.py).

Today's lifecycle knows one survey action, ``RecordSurvey`` with outcome satisfied / unsatisfied
/ unreachable, from ``reviewed``. The phone survey's answer is richer (satisfied, basically
satisfied, unsatisfied; solved yes / no); until the lifecycle carries those (issue 17, the
lifecycle's own survey states), they map as:

    satisfied or basic, and solved (or not answered)  -> RecordSurvey(outcome="satisfied")
    unsatisfied, or solved = no                        -> RecordSurvey(outcome="unsatisfied")
        (a supervisor then reopens it: redo under supervision, 督办)
    no answer after the attempts                       -> RecordSurvey(outcome="unreachable")

and the full answer is in the event's note (``ivr satisfaction=basic solved=no``) and in the
``survey_calls`` table. The actor is ``SURVEY_ACTOR``: a human survey is recorded by a person's
account, so the log tells the two apart. ``survey_action`` is the one place to change when the
lifecycle grows its own survey actions.
"""

from __future__ import annotations

import logging
from datetime import datetime

from hotline.followup.flows import SurveyAnswer
from hotline.tickets.lifecycle import Action, RecordSurvey, TicketState
from hotline.tickets.service import TicketService
from hotline.tickets.values import Viewer

log = logging.getLogger(__name__)

SURVEY_ACTOR = "survey-ivr"
SURVEYED = frozenset({TicketState.REVIEWED})
_PLATFORM = Viewer(role="callback")


def survey_action(satisfaction: str, solved: bool | None, at: datetime) -> Action:
    """The lifecycle action for a phone survey's answer (see the module's table)."""
    bad = satisfaction == "unsatisfied" or solved is False
    solved_text = "-" if solved is None else ("yes" if solved else "no")
    return RecordSurvey(
        actor=SURVEY_ACTOR,
        at=at,
        outcome="unsatisfied" if bad else "satisfied",
        note=f"ivr satisfaction={satisfaction} solved={solved_text}",
    )


class TicketSurveys:
    """``hotline.followup.dialer.SurveyTickets`` on the ticket service (synchronous)."""

    def __init__(self, tickets: TicketService) -> None:
        self._tickets = tickets

    def to_survey(self, limit: int) -> list[tuple[str, str]]:
        found = self._tickets.tickets(_PLATFORM, states=SURVEYED, limit=limit)
        return [(t.number, t.caller_number) for t in found if t.caller_number]

    def answered(self, ticket: str, answer: SurveyAnswer, at: datetime) -> None:
        action = survey_action(answer.satisfaction, answer.solved, at)
        self._tickets.act(ticket, action, _PLATFORM)
        log.info("ticket %s: phone survey %s (solved %s)", ticket, answer.satisfaction,
                 answer.solved)  # fmt: skip

    def unreachable(self, ticket: str, attempts: int, at: datetime) -> None:
        action = RecordSurvey(
            actor=SURVEY_ACTOR, at=at, outcome="unreachable",
            note=f"ivr unreachable after {attempts} calls",
        )  # fmt: skip
        self._tickets.act(ticket, action, _PLATFORM)
        log.info("ticket %s: unreachable after %d survey calls", ticket, attempts)
