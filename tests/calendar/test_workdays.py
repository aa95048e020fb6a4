"""Deadlines against a hand-checked 2026 calendar.

The official 2026 schedule as chinese_calendar 1.11 has it (printed and checked by hand):

    Sep 20 Sun   make-up WORKING day (for National Day)
    Sep 25-27    Mid-autumn Festival holiday (Fri-Sun)
    Sep 28-30    working days (Mon-Wed)
    Oct 1-7      National Day holiday (Thu-Wed)
    Oct 8, 9     working days (Thu, Fri)
    Oct 10 Sat   make-up WORKING day (for National Day)
    Oct 11 Sun   rest

So Wednesday Sep 30 is the last working day before the National Day holiday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.workdays import (
    CalendarOutOfRange,
    Category,
    DeadlinePolicy,
    WorkCalendar,
    callback_deadline,
    due_status,
    extension_request_allowed,
    reply_deadline,
    return_deadline,
)

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

CAL = WorkCalendar()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CENTRE_TZ)


def end(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=CENTRE_TZ)


def test_the_2026_schedule_is_what_the_hand_check_assumed() -> None:
    assert CAL.is_workday(date(2026, 9, 20))  # make-up Sunday
    assert not CAL.is_workday(date(2026, 9, 25))
    assert CAL.is_workday(date(2026, 9, 30))
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert CAL.is_workday(date(2026, 10, 10))  # make-up Saturday
    assert not CAL.is_workday(date(2026, 10, 11))


def test_consultation_dispatched_on_the_eve_of_national_day() -> None:
    # Dispatched Wed Sep 30 16:00; Sep 30 itself does not count. Oct 1-7 holiday;
    # working day 1 = Thu Oct 8, working day 2 = Fri Oct 9 -> due Fri Oct 9 end of day.
    assert reply_deadline(Category.CONSULTATION, at(2026, 9, 30, 16)) == end(2026, 10, 9)
    # Even one minute before midnight the start day does not count.
    assert reply_deadline(Category.CONSULTATION, at(2026, 9, 30, 23, 59)) == end(2026, 10, 9)


def test_twenty_working_days_across_a_make_up_saturday() -> None:
    # Complaint dispatched Wed Sep 30. Working days: Oct 8 (1), 9 (2), Sat 10 make-up (3),
    # Oct 12-16 (4-8), Oct 19-23 (9-13), Oct 26-30 (14-18), Mon Nov 2 (19), Tue Nov 3 (20).
    # Without the make-up Saturday it would be Wed Nov 4.
    assert reply_deadline(Category.COMPLAINT, at(2026, 9, 30)) == end(2026, 11, 3)
    for category in (Category.HELP, Category.REPORT, Category.SUGGESTION):
        assert reply_deadline(category, at(2026, 9, 30)) == end(2026, 11, 3)


def test_make_up_sunday_counts() -> None:
    # Fri Sep 18 + 2: Sun Sep 20 is a working day (1), Mon Sep 21 (2).
    assert CAL.add_workdays(at(2026, 9, 18), 2) == end(2026, 9, 21)


def test_calendar_date_is_taken_in_shanghai() -> None:
    # 16:30 UTC on Sep 29 is 00:30 on Sep 30 in Shanghai: the start day is Sep 30, not Sep 29
    # (which would give Sep 30 + Oct 8 = Oct 8).
    utc = datetime(2026, 9, 29, 16, 30, tzinfo=UTC)
    assert CAL.add_workdays(utc, 2) == end(2026, 10, 9)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add_workdays(datetime(2026, 9, 30, 10), 2)


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CAL.add_workdays(at(2026, 9, 30), 0)


def test_emergency_on_site_is_wall_clock_and_reply_in_working_days() -> None:
    policy = DeadlinePolicy()
    # 23:00 the night before the holiday: on site by 01:00, holiday or not.
    assert policy.onsite_deadline(at(2026, 9, 30, 23)) == at(2026, 10, 1, 1)
    assert policy.reply_deadline(Category.EMERGENCY, at(2026, 9, 30, 23)) == end(2026, 10, 9)


def test_return_and_callback_deadlines() -> None:
    # Return within 2 working days of dispatch: Sep 30 -> Oct 8, Oct 9.
    assert return_deadline(at(2026, 9, 30)) == end(2026, 10, 9)
    # Callback within 2 working days of closure: Fri Oct 9 -> Sat Oct 10 (make-up), Mon Oct 12.
    assert callback_deadline(at(2026, 10, 9, 17)) == end(2026, 10, 12)


def test_granted_extension_adds_working_days() -> None:
    # 20 days end Tue Nov 3; 5 more: Nov 4, 5, 6, 9, 10.
    policy = DeadlinePolicy()
    deadline = policy.reply_deadline(Category.COMPLAINT, at(2026, 9, 30), extension_days=5)
    assert deadline == end(2026, 11, 10)


def test_extension_request_needs_two_working_days_of_lead() -> None:
    deadline = end(2026, 11, 3)  # Tue
    assert extension_request_allowed(deadline, at(2026, 10, 30))  # Fri: Nov 2, 3 remain
    assert extension_request_allowed(deadline, at(2026, 10, 31))  # Sat: still Nov 2, 3
    assert not extension_request_allowed(deadline, at(2026, 11, 2))  # Mon: only Nov 3
    assert not extension_request_allowed(deadline, at(2026, 11, 4))  # past the deadline
    # Across the holiday: consultation due Fri Oct 9; asking during the holiday still leaves
    # Oct 8 and 9, asking on Oct 8 leaves one day.
    assert extension_request_allowed(end(2026, 10, 9), at(2026, 10, 3))
    assert not extension_request_allowed(end(2026, 10, 9), at(2026, 10, 8))


def test_due_status_cards() -> None:
    deadline = end(2026, 11, 3)  # Tue
    assert due_status(deadline, at(2026, 10, 30)) == "ok"  # 2 working days left
    assert due_status(deadline, at(2026, 11, 1)) == "ok"  # Sun: Mon and Tue still ahead
    assert due_status(deadline, at(2026, 11, 2)) == "due_soon"  # the working day before
    assert due_status(deadline, at(2026, 11, 3, 23, 59)) == "due_soon"
    assert due_status(deadline, at(2026, 11, 4, 0, 0)) == "overdue"
    assert due_status(deadline, at(2026, 10, 30), soon_workdays=2) == "due_soon"


def test_local_overrides() -> None:
    # A local holiday on Thu Oct 8: a consultation from Sep 30 is due on the make-up Saturday.
    local = WorkCalendar(extra_holidays={date(2026, 10, 8)})
    assert local.add_workdays(at(2026, 9, 30), 2) == end(2026, 10, 10)
    # A local working Saturday Oct 17: Fri Oct 16 + 1 is Sat Oct 17, not Mon Oct 19.
    local = WorkCalendar(extra_workdays={date(2026, 10, 17)})
    assert local.add_workdays(at(2026, 10, 16), 1) == end(2026, 10, 17)
    assert CAL.add_workdays(at(2026, 10, 16), 1) == end(2026, 10, 19)
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(extra_holidays={date(2026, 1, 5)}, extra_workdays={date(2026, 1, 5)})


def test_dates_outside_every_source_are_refused() -> None:
    with pytest.raises(CalendarOutOfRange, match="2100-01-04"):
        CAL.is_workday(date(2100, 1, 4))
    with pytest.raises(CalendarOutOfRange):
        CAL.is_workday(date(2003, 6, 2))


def test_a_deadline_into_a_year_the_package_does_not_know_is_provisional() -> None:
    # Before: CalendarOutOfRange from December on (the 2026-12 red CI). Now the provisional
    # calendar counts it, and says so.
    last_year = max(d.year for d in chinese_calendar.holidays)
    start = at(last_year, 12, 20)
    due = CAL.add_workdays(start, 20)
    assert due.year == last_year + 1
    assert CAL.deadline_provisional(start, due)
    assert not CAL.deadline_provisional(
        at(last_year, 12, 1), CAL.add_workdays(at(last_year, 12, 1), 2)
    )


def test_a_new_year_can_be_configured_before_the_package_has_it() -> None:
    # Year 2100 configured locally with Fri Jan 1 as a holiday. From Jan 1 itself (not
    # counted): Sat 2, Sun 3 rest, Mon Jan 4 (1), Tue Jan 5 (2).
    cal = WorkCalendar(extra_holidays={date(2100, 1, 1)}, extra_years={2100})
    assert not cal.is_workday(date(2100, 1, 1))
    assert cal.add_workdays(datetime(2100, 1, 1, 9, tzinfo=CENTRE_TZ), 2) == end(2100, 1, 5)


@given(
    start=st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 11, 30)),
    n=st.integers(min_value=1, max_value=20),
)
def test_workdays_between_inverts_add_workdays(start: date, n: int) -> None:
    start_at = datetime(start.year, start.month, start.day, 12, tzinfo=CENTRE_TZ)
    deadline = CAL.add_workdays(start_at, n)
    assert CAL.workdays_between(start_at, deadline) == n
    assert CAL.workdays_between(deadline, start_at) == -n
    assert CAL.is_workday(deadline.date())
    # The day before the deadline is one working day short.
    assert CAL.workdays_between(start_at, deadline - timedelta(days=1)) == n - 1
