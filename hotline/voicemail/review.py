"""The night-shift review of voicemail, as pure rules: which messages wait, in what order, by
when each must be reviewed, and when a citizen counts as unreachable.

Rules:
1. The queue is every ticket still in ``voicemail_review``, oldest message first (the time the
   message was left, then the ticket number): the longest-waiting citizen is called first.
   Emergencies come before everything else (the speech classifier heard fire, injury, crime,
   gas or an accident in the message: the ticket's handling type is ``emergency``).
2. A message must be reviewed by ``review_by`` (a local time, default 10:00) on the first
   working day (the national calendar with local overrides, hotline.tickets.workdays.WorkCalendar)
   whose ``review_by`` comes after the message was left: left on Friday night -> Monday 10:00
   (or a make-up working Saturday); left at 07:00 on a working day -> 10:00 that day; left at
   11:00 -> 10:00 the next working day. After that moment the item is late, and the page says so.
   An emergency does not wait for the morning: it is due the moment it was left (so it shows as
   late at once) and the night shift calls back or passes it on to 110/119/120/122.
3. Calling back: each attempt's outcome (reached, no answer, busy, failed) is kept; after
   ``max_attempts`` attempts that did not reach the citizen the item is unreachable and the
   reviewer closes it with that reason (the ticket's survey-style unreachable rule, applied to
   voicemail).
No clock and no I/O here: "now" and the calendar come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from hotline.tickets.workdays import SHANGHAI, WorkCalendar

REACHED = "reached"
CALLBACK_OUTCOMES = (REACHED, "no_answer", "busy", "failed")


def review_due(left_at: datetime, review_by: time, calendar: WorkCalendar) -> datetime:
    """Rule 2: the first working-day ``review_by`` after the message was left."""
    local = left_at.astimezone(SHANGHAI)
    day = local.date()
    for _ in range(60):  # the longest Chinese holiday run is 8 days; 60 is generous
        if calendar.is_workday(day):
            due = datetime.combine(day, review_by, tzinfo=SHANGHAI)
            if due > local:
                return due
        day += timedelta(days=1)
    raise ValueError(f"no working day within 60 days after {local.isoformat()}")


@dataclass(frozen=True)
class Attempt:
    at: datetime
    outcome: str  # one of CALLBACK_OUTCOMES

    def __post_init__(self) -> None:
        if self.outcome not in CALLBACK_OUTCOMES:
            raise ValueError(
                f"callback outcome {self.outcome!r} is not one of {', '.join(CALLBACK_OUTCOMES)}"
            )


@dataclass(frozen=True)
class ReviewItem:
    ticket: str
    call_id: str
    caller: str
    left_at: datetime
    ivr_path: str
    transcript: str
    recording: str
    due: datetime
    late: bool
    attempts: tuple[Attempt, ...] = ()
    unreachable: bool = False
    emergency: bool = False


@dataclass(frozen=True)
class Waiting:
    """A voicemail ticket as the store hands it over (what the rules need of it)."""

    ticket: str
    caller: str
    left_at: datetime
    call_id: str = ""
    ivr_path: str = ""
    transcript: str = ""
    recording: str = ""
    attempts: tuple[Attempt, ...] = ()
    emergency: bool = False


def unreachable(attempts: Sequence[Attempt], max_attempts: int) -> bool:
    """Rule 3: enough attempts, none of which reached the citizen."""
    return len(attempts) >= max_attempts and all(a.outcome != REACHED for a in attempts)


def review_queue(
    waiting: Iterable[Waiting],
    now: datetime,
    *,
    review_by: time,
    calendar: WorkCalendar,
    max_attempts: int,
) -> list[ReviewItem]:
    """Rules 1-3 applied: the page's list, oldest first, with due times and flags."""
    items = []
    for w in sorted(waiting, key=lambda w: (not w.emergency, w.left_at, w.ticket)):
        due = w.left_at if w.emergency else review_due(w.left_at, review_by, calendar)
        items.append(
            ReviewItem(
                ticket=w.ticket,
                call_id=w.call_id,
                caller=w.caller,
                left_at=w.left_at,
                ivr_path=w.ivr_path,
                transcript=w.transcript,
                recording=w.recording,
                due=due,
                late=now > due,
                attempts=w.attempts,
                unreachable=unreachable(w.attempts, max_attempts),
                emergency=w.emergency,
            )
        )
    return items
