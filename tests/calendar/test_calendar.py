"""The centre's one calendar across a year boundary (issue 12), pure: no clock, no I/O.

Every date here is given, never today's: the suite must pass in 2027 and 2028 as it does now.
The 2027 figures were counted by hand from the provisional calendar (statutory holidays from
the ``holidays`` package: 元旦 1 Jan; 春节 5-8 Feb with in-lieu days 9-10 Feb; no make-up days)
and from tests/data/calendar-2027-sample.txt (春节 5-12 Feb, make-up Sunday 14 and Saturday 20).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from hotline.acd.staffing import plan_day
from hotline.base.daytypes import CENTRE_TZ, Arrangement, DayType, Source, provisional_days
from hotline.calendar.file import ArrangementError, format_arrangement, parse_arrangement
from hotline.calendar.service import next_year_warning
from hotline.ivr.hours import BusinessHours, HoursConfig
from hotline.tickets.workdays import Category, DeadlinePolicy, WorkCalendar
from hotline.voicemail.review import review_due

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "calendar-2027-sample.txt"


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CENTRE_TZ)


def eod(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time.max, tzinfo=CENTRE_TZ)


def official_2027() -> Arrangement:
    return parse_arrangement(SAMPLE.read_bytes(), "sample")


# What the packages knew in December 2026 (chinese-calendar 1.11.0: 2004-2026, the holidays
# package no 2027 substitute days), given like a clock: a release that learns 2027 changes
# the centre's calendar, not these tests.
KNOWN = 2026
PROVISIONAL = WorkCalendar(packages_until=KNOWN)


def imported() -> WorkCalendar:
    return WorkCalendar(arrangements=[official_2027()], packages_until=KNOWN)


# -- sources and their order -------------------------------------------------------------------


def test_a_year_nobody_published_is_provisional_and_says_so() -> None:
    assert PROVISIONAL.year_status(2026).source is Source.OFFICIAL
    status = PROVISIONAL.year_status(2027)
    assert status.source is Source.PROVISIONAL and "holidays" in status.detail
    new_year = PROVISIONAL.day(date(2027, 1, 1))
    assert (new_year.type, new_year.source, new_year.name) == (
        DayType.HOLIDAY,
        Source.PROVISIONAL,
        "元旦",
    )
    # Spring Festival 2027: eve Fri 5 Feb, 6-8 Feb, and the two in-lieu weekdays for the
    # weekend (放假办法: a holiday on a weekend is made up on a working day).
    off = [d for d in range(4, 13) if not PROVISIONAL.is_workday(date(2027, 2, d))]
    assert off == [5, 6, 7, 8, 9, 10]
    # No make-up working days can be guessed: every weekend day rests.
    assert PROVISIONAL.day(date(2027, 2, 14)).type is DayType.REST_DAY


def test_an_import_makes_the_year_official_and_wins_over_the_provisional_days() -> None:
    cal = imported()
    assert cal.year_status(2027).source is Source.OFFICIAL
    assert "imported: sample" in cal.year_status(2027).detail
    assert cal.day(date(2027, 2, 11)).type is DayType.HOLIDAY  # provisional: a working day
    makeup = cal.day(date(2027, 2, 14))
    assert (makeup.type, makeup.name) == (DayType.MAKEUP_WORKDAY, "春节调休上班")
    assert cal.is_workday(date(2027, 2, 14))


def test_configured_dates_win_over_every_source() -> None:
    cal = WorkCalendar(
        extra_holidays={date(2026, 10, 9), date(2027, 2, 15)},
        extra_workdays={date(2027, 2, 6)},
        arrangements=[official_2027()],
    )
    assert cal.day(date(2026, 10, 9)).source is Source.CONFIGURED  # over chinese-calendar
    assert not cal.is_workday(date(2027, 2, 15))  # over the import
    assert cal.is_workday(date(2027, 2, 6))
    described = WorkCalendar(extra_years={2027})
    assert described.year_status(2027).source is Source.CONFIGURED
    assert described.is_workday(date(2027, 1, 1))  # the centre said Monday-Friday


def test_what_the_packages_know_is_given_like_a_clock() -> None:
    # 2026 as it looked before its notice: statutory days only, no make-up working day.
    before = WorkCalendar(packages_until=2025)
    assert before.year_status(2026).source is Source.PROVISIONAL
    assert before.is_workday(date(2026, 1, 2))  # bridged by the notice, provisionally worked
    assert not before.is_workday(date(2026, 1, 4))  # a Sunday; the notice made it a work day
    assert WorkCalendar().year_status(2026).source is Source.OFFICIAL
    assert not WorkCalendar().is_workday(date(2026, 1, 2))


@pytest.mark.parametrize("year", range(2018, KNOWN + 1))
def test_substitute_days_the_holidays_package_carries_come_with_their_make_up_days(
    year: int,
) -> None:
    # Where the holidays package has a year's notice (休息日（由 X 调休）), the provisional
    # calendar takes each bridged day off with the weekend day X worked for it, and so is
    # the official calendar day by day (checked against chinese-calendar's).
    days = provisional_days(year)
    day, wrong = date(year, 1, 1), []
    while day.year == year:
        kind = days.get(day, (DayType.WORKDAY if day.weekday() < 5 else DayType.REST_DAY, ""))[0]
        if (kind in (DayType.WORKDAY, DayType.MAKEUP_WORKDAY)) != chinese_calendar.is_workday(day):
            wrong.append(day)
        day += timedelta(days=1)
    assert wrong == []
    # Without them (a year after packages_until): statutory days only, never a bridged day
    # off without its make-up day.
    statutory = provisional_days(year, substitutes=False)
    assert all(kind is DayType.HOLIDAY for kind, _ in statutory.values())
    assert set(statutory) < set(days)


def test_an_arrangement_can_replace_the_one_in_use() -> None:
    cal = WorkCalendar(packages_until=KNOWN)
    policy = DeadlinePolicy(calendar=cal)
    assert policy.reply_deadline(Category.CONSULTATION, at(2027, 2, 10)) == eod(2027, 2, 12)
    cal.set_arrangements([official_2027()])  # what a running engine does after an import
    assert policy.reply_deadline(Category.CONSULTATION, at(2027, 2, 10)) == eod(2027, 2, 15)


# -- the boundary: deadlines, voicemail, hours, staffing ---------------------------------------

BOUNDARY = [
    # (dispatched, category, provisional due, provisional?, official due)
    # Sun 20 Dec: Mon 21, Tue 22 — all in 2026, official either way.
    (at(2026, 12, 20), Category.CONSULTATION, eod(2026, 12, 22), False, eod(2026, 12, 22)),
    # 20 working days: 9 in December, 1 Jan off, then 4-8, 11-15, 18 Jan.
    (at(2026, 12, 20), Category.COMPLAINT, eod(2027, 1, 18), True, eod(2027, 1, 18)),
    # New Year's Eve: 1 Jan off, 2-3 weekend, Mon 4 and Tue 5 Jan.
    (at(2026, 12, 31, 23, 30), Category.CONSULTATION, eod(2027, 1, 5), True, eod(2027, 1, 5)),
    (at(2026, 12, 31), Category.HELP, eod(2027, 1, 29), True, eod(2027, 1, 29)),
    # Into the Spring Festival: provisional Thu 11, Fri 12; official (5-12 off) Sun 14, Mon 15.
    (at(2027, 2, 10), Category.CONSULTATION, eod(2027, 2, 12), True, eod(2027, 2, 15)),
]


@pytest.mark.parametrize(("start", "category", "due", "provisional", "official"), BOUNDARY)
def test_deadlines_across_new_year_provisional_then_official(
    start: datetime, category: Category, due: datetime, provisional: bool, official: datetime
) -> None:
    before = DeadlinePolicy(calendar=PROVISIONAL)
    assert before.reply_deadline(category, start) == due
    assert PROVISIONAL.deadline_provisional(start, due) is provisional
    after_import = imported()
    after = DeadlinePolicy(calendar=after_import)
    assert after.reply_deadline(category, start) == official
    assert not after_import.deadline_provisional(start, official)


def test_a_voicemail_left_on_new_years_eve_night_is_due_on_the_first_working_morning() -> None:
    left = at(2026, 12, 31, 23, 40)
    # 1 Jan holiday, 2-3 Jan weekend: Monday 4 January 10:00, by either calendar.
    assert review_due(left, time(10), PROVISIONAL) == at(2027, 1, 4, 10)
    assert review_due(left, time(10), imported()) == at(2027, 1, 4, 10)
    # Left on the eve of the Spring Festival: provisional Thu 11 Feb, official Sun 14 Feb.
    assert review_due(at(2027, 2, 4, 22), time(10), PROVISIONAL) == at(2027, 2, 11, 10)
    assert review_due(at(2027, 2, 4, 22), time(10), imported()) == at(2027, 2, 14, 10)


KUNMING = HoursConfig(
    workday=["08:00-22:00"], makeup_workday=["08:00-22:00"], rest_day=["09:00-17:00"], holiday=[]
)


def test_opening_hours_on_new_years_day_and_in_the_spring_festival() -> None:
    for cal in (PROVISIONAL, imported()):
        hours = BusinessHours(KUNMING, cal)
        assert not hours.is_open(at(2027, 1, 1, 10))  # 元旦: closed by either calendar
        assert not hours.is_open(at(2027, 2, 8, 10))  # 春节
    provisional = BusinessHours(KUNMING, PROVISIONAL)
    official = BusinessHours(KUNMING, imported())
    assert provisional.next_open(at(2027, 1, 1, 10)) == at(2027, 1, 2, 9)  # Saturday's hours
    assert official.next_open(at(2027, 1, 1, 10)) == at(2027, 1, 4, 8)  # 1-3 Jan off
    assert provisional.is_open(at(2027, 2, 11, 20))  # a working day until the import...
    assert not official.is_open(at(2027, 2, 11, 20))  # ...a holiday after it
    assert not provisional.is_open(at(2027, 2, 14, 20))  # a rest day's hours end at 17:00
    assert official.is_open(at(2027, 2, 14, 20))  # the make-up Sunday is staffed
    assert official.next_open(at(2027, 2, 4, 23)) == at(2027, 2, 13, 9)


def test_staffing_day_types_follow_the_same_calendar() -> None:
    assert plan_day(date(2027, 2, 14), [], calendar=PROVISIONAL).day_type is DayType.REST_DAY
    assert plan_day(date(2027, 2, 14), [], calendar=imported()).day_type is (DayType.MAKEUP_WORKDAY)


def test_the_warning_runs_from_november_while_next_year_is_provisional() -> None:
    assert next_year_warning(PROVISIONAL, at(2026, 10, 31, 23)) is None
    warning = next_year_warning(PROVISIONAL, at(2026, 11, 1, 0, 1))
    assert warning is not None and "2027" in warning
    assert next_year_warning(imported(), at(2026, 12, 7)) is None
    assert next_year_warning(WorkCalendar(extra_years={2027}), at(2026, 12, 7)) is None


# -- the import file ---------------------------------------------------------------------------


def test_the_sample_file_reads_back_as_written() -> None:
    a = official_2027()
    assert a.year == 2027 and len(a.workdays) == 5 and a.holidays[date(2027, 2, 5)] == "春节"
    assert parse_arrangement(format_arrangement(a)) == Arrangement(
        a.year, a.holidays, a.workdays, ""
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year 2027\nholiday 2027-02-14 春节\nworkday 2027-02-14 调休", r"line 3 .*both"),
        ("year 2027\nholiday 2026-12-31 元旦", r"line 2 .*not in 2027"),
        ("year 2027\nholiday 2027-01-01 元旦\nworkday 2027-02-15 调休", r"line 3 .*weekday"),
        ("year 2027\nholiday 2027-02-30 春节", r"line 2 .*not a date"),
        ("holiday 2027-01-01 元旦", r"line 1 .*year YYYY"),
        ("year 2027\nyear 2027", r"line 2 .*twice"),
        ("year 2027\nholiday 2027-01-01", r"line 2 .*name"),
        ("year 2027\nholiday 2027-01-03..2027-01-01 元旦", r"line 2 .*ends before"),
        ("year 2027\nholiday 2027-01-01 元旦\nholiday 2027-01-01 元旦", r"line 3 .*twice"),
        ("year 2027\nweekday 2027-01-01", r"line 2 .*expected"),
        ("year 2027\n# only a comment", r"no holiday"),
        ("", r"empty"),
        ("year 1999\nholiday 1999-01-01 元旦", r"line 1 .*outside"),
    ],
)
def test_a_bad_arrangement_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(ArrangementError, match=message):
        parse_arrangement(text.encode())


def test_a_file_that_is_not_text_is_refused() -> None:
    with pytest.raises(ArrangementError, match="UTF-8"):
        parse_arrangement(b"year 2027\n\xff\xfe")
    with pytest.raises(ArrangementError, match="bytes"):
        parse_arrangement(b"#" * 70_000)
