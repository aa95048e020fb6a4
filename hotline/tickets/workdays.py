"""Working days and ticket deadlines (the "2·20" rule), pure: no clock, no I/O.

Rules (docs/DOMAIN.md, "Deadlines count working days"):

* A working day is a day the Chinese government works: Monday-Friday unless a public holiday,
  plus the official make-up weekend days (调休). The national schedule comes from the
  ``chinese_calendar`` package; a city may add local holidays or working days on top.
* Calendar dates are taken in Asia/Shanghai: a datetime must be timezone-aware, because an order
  dispatched at 23:30 Beijing time is 15:30 UTC and the two fall on different dates.
* ``add_workdays(start, n)`` ends at the END (23:59:59.999999, Shanghai) of the n-th working day
  AFTER the start day: the start day itself never counts, whatever the hour. This is how Chinese
  law computes periods (民法典 art. 201: 开始的当日不计入, the period starts the next day), and
  it keeps an order dispatched at 17:55 from losing a whole working day to five minutes.
  Example: dispatched Wednesday 10:00, 2 working days -> due Friday 23:59:59.999999.
* Which days are working days is ``hotline.base.daytypes.ChinaCalendar``'s answer: configured local
  dates, then the official arrangement (imported or chinese-calendar), then a provisional
  calendar of statutory holidays for a year nobody has published yet. A deadline counted across
  a provisional day is marked provisional (``deadline_provisional``) and recomputed when the
  official arrangement arrives (``TicketService.recompute_provisional``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from hotline.base.daytypes import CalendarOutOfRange as CalendarOutOfRange  # re-exported
from hotline.base.daytypes import ChinaCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = time.max

DueStatus = Literal["ok", "due_soon", "overdue"]


class Category(enum.StrEnum):
    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    EMERGENCY = "emergency"  # 突发: on site in 2 h, reply in 2 working days


def local_date(value: date) -> date:
    """The Shanghai calendar date of an aware datetime, or the date itself."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware one")
        return value.astimezone(SHANGHAI).date()
    return value


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=SHANGHAI)


class WorkCalendar(ChinaCalendar):
    """The centre's calendar (hotline.base.daytypes) with the deadline arithmetic on top; dates may
    be given as aware datetimes and are taken in Shanghai."""

    def is_workday(self, day: date) -> bool:
        return super().is_workday(local_date(day))

    def deadline_provisional(self, start: datetime, due: datetime) -> bool:
        """A deadline counted across a day of a provisional year (shown as such, recomputed
        when the official arrangement arrives)."""
        return self.provisional_between(local_date(start), local_date(due))

    def add_workdays(self, start: datetime, n: int) -> datetime:
        """End of the n-th working day after the start day (the start day does not count)."""
        if n < 1:
            raise ValueError(f"n must be at least 1 working day, got {n}")
        day = local_date(start)
        remaining = n
        while remaining:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return end_of_day(day)

    def workdays_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b (Shanghai dates); negative when b is before a.

        Counted like add_workdays, so workdays_between(s, add_workdays(s, n)) == n.
        """
        da, db = local_date(a), local_date(b)
        if db < da:
            return -self.workdays_between(db, da)
        count = 0
        day = da
        while day < db:
            day += timedelta(days=1)
            count += self.is_workday(day)
        return count


def _default_reply_workdays() -> dict[Category, int]:
    # Anshan "2·20": consultations 2 working days, every other request 20.
    days = {c: 20 for c in Category}
    days[Category.CONSULTATION] = 2
    days[Category.EMERGENCY] = 2
    return days


@dataclass(frozen=True)
class DeadlinePolicy:
    """Deadlines per category; cities differ (docs/DOMAIN.md), so every number is a field."""

    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    reply_workdays: Mapping[Category, int] = field(default_factory=_default_reply_workdays)
    onsite_within: timedelta = timedelta(hours=2)  # emergencies, wall clock, nights included
    return_workdays: int = 2  # sign for or return (退单) an order after dispatch
    callback_workdays: int = 2  # review and callback (复核回访) after closure
    extension_lead_workdays: int = 2  # ask for an extension at least this long before

    def __post_init__(self) -> None:
        missing = [c.value for c in Category if c not in self.reply_workdays]
        if missing:
            raise ValueError(f"reply_workdays has no entry for: {', '.join(missing)}")

    def reply_deadline(
        self, category: Category, dispatched_at: datetime, extension_days: int = 0
    ) -> datetime:
        """When the unit must have answered; granted extensions add working days."""
        return self.calendar.add_workdays(
            dispatched_at, self.reply_workdays[Category(category)] + extension_days
        )

    def onsite_deadline(self, dispatched_at: datetime) -> datetime:
        local_date(dispatched_at)  # reject naive datetimes here too
        return dispatched_at + self.onsite_within

    def return_deadline(self, dispatched_at: datetime) -> datetime:
        return self.calendar.add_workdays(dispatched_at, self.return_workdays)

    def callback_deadline(self, closed_at: datetime) -> datetime:
        return self.calendar.add_workdays(closed_at, self.callback_workdays)

    def extension_request_allowed(self, deadline: datetime, at: datetime) -> bool:
        """At least `extension_lead_workdays` working days must remain after the request day.

        Due Friday with a lead of 2: Wednesday is the last day to ask (Thursday and Friday
        remain); on Thursday it is too late.
        """
        if at > deadline:
            return False
        return self.calendar.workdays_between(at, deadline) >= self.extension_lead_workdays

    def due_status(self, deadline: datetime, now: datetime, soon_workdays: int = 1) -> DueStatus:
        """Shandong's cards: "due_soon" (yellow) from `soon_workdays` working days before the
        deadline day, "overdue" (red) once the deadline has passed."""
        local_date(now)  # a naive `now` is a bug in the caller: say so, not TypeError
        if now > deadline:
            return "overdue"
        if self.calendar.workdays_between(now, deadline) <= soon_workdays:
            return "due_soon"
        return "ok"


DEFAULT_POLICY = DeadlinePolicy()


def reply_deadline(category: Category, dispatched_at: datetime) -> datetime:
    return DEFAULT_POLICY.reply_deadline(category, dispatched_at)


def return_deadline(dispatched_at: datetime) -> datetime:
    return DEFAULT_POLICY.return_deadline(dispatched_at)


def callback_deadline(closed_at: datetime) -> datetime:
    return DEFAULT_POLICY.callback_deadline(closed_at)


def extension_request_allowed(deadline: datetime, at: datetime) -> bool:
    return DEFAULT_POLICY.extension_request_allowed(deadline, at)


def due_status(deadline: datetime, now: datetime, soon_workdays: int = 1) -> DueStatus:
    return DEFAULT_POLICY.due_status(deadline, now, soon_workdays)
