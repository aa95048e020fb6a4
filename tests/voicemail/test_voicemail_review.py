"""The night-shift review rules: order, the next-working-morning deadline, unreachable."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.workdays import WorkCalendar
from hotline.voicemail.review import Attempt, Waiting, review_due, review_queue, unreachable

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

CAL = WorkCalendar()
TEN = time(10, 0)


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CENTRE_TZ)


@pytest.mark.parametrize(
    ("left", "due"),
    [
        (at(2026, 11, 20, 23), at(2026, 11, 23, 10)),  # Friday night -> Monday morning
        (at(2026, 11, 23, 7), at(2026, 11, 23, 10)),  # early on a working day -> that day
        (at(2026, 11, 23, 11), at(2026, 11, 24, 10)),  # after 10:00 -> next working day
        # National Day 2026: 1-7 October off; 30 Sept night -> Thursday 8 October.
        (at(2026, 9, 30, 22), at(2026, 10, 8, 10)),
        # A make-up working Sunday (20 Sept 2026) is a working morning.
        (at(2026, 9, 19, 20), at(2026, 9, 20, 10)),
        # Mid-Autumn Festival, Friday 25 Sept 2026: Thursday night -> Monday 28 Sept.
        (at(2026, 9, 24, 23), at(2026, 9, 28, 10)),
    ],
)
def test_a_message_is_due_on_the_next_working_morning(left: datetime, due: datetime) -> None:
    assert review_due(left, TEN, CAL) == due


def test_local_holidays_move_the_deadline() -> None:
    cal = WorkCalendar(extra_holidays={at(2026, 11, 23, 0).date()})
    assert review_due(at(2026, 11, 20, 23), TEN, cal) == at(2026, 11, 24, 10)


def test_queue_is_oldest_first_and_flags_late_and_unreachable() -> None:
    waiting = [
        Waiting("T2", "138", at(2026, 11, 20, 23, 30)),
        Waiting(
            "T1",
            "139",
            at(2026, 11, 20, 22),
            attempts=(Attempt(at(2026, 11, 23, 9), "busy"), Attempt(at(2026, 11, 23, 9), "busy")),
        ),
        Waiting("T3", "137", at(2026, 11, 23, 10, 1)),  # due Tuesday 10:00
    ]
    queue = review_queue(
        waiting, at(2026, 11, 23, 10, 5), review_by=TEN, calendar=CAL, max_attempts=2
    )
    assert [i.ticket for i in queue] == ["T1", "T2", "T3"]
    assert [i.late for i in queue] == [True, True, False]
    assert [i.unreachable for i in queue] == [True, False, False]


def test_an_emergency_comes_first_and_is_due_at_once() -> None:
    waiting = [
        Waiting("T1", "139", at(2026, 11, 20, 22)),
        Waiting("T9", "138", at(2026, 11, 21, 2), emergency=True),  # left later, called first
    ]
    queue = review_queue(
        waiting, at(2026, 11, 21, 2, 1), review_by=TEN, calendar=CAL, max_attempts=2
    )
    assert [(i.ticket, i.emergency) for i in queue] == [("T9", True), ("T1", False)]
    assert queue[0].due == at(2026, 11, 21, 2) and queue[0].late  # no waiting for Monday
    assert queue[1].due == at(2026, 11, 23, 10) and not queue[1].late


def test_one_reached_attempt_is_never_unreachable() -> None:
    tries = [Attempt(at(2026, 11, 23, 9), "no_answer"), Attempt(at(2026, 11, 23, 9), "reached")]
    assert not unreachable(tries, 2)
    assert not unreachable(tries[:1], 2)


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Attempt(at(2026, 11, 23, 9), "maybe")
