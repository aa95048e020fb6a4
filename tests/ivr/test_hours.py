"""Opening hours by day type (Kunming-style 08:00-22:00), with local exceptions."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import ValidationError

from hotline.base.daytypes import CENTRE_TZ
from hotline.ivr.hours import BusinessHours, HoursConfig, hours_clock

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CENTRE_TZ)


KUNMING = BusinessHours(
    HoursConfig(
        workday=["08:00-22:00"],
        makeup_workday=["08:00-22:00"],
        rest_day=["09:00-12:00", "14:00-18:00"],
        holiday=[],
        closed_dates=[date(2026, 10, 13)],
    )
)


def test_default_is_seven_by_twenty_four() -> None:
    hours = BusinessHours(HoursConfig())
    assert hours.is_open(at(2026, 10, 1, 3)) and hours.is_open(at(2026, 10, 12, 23, 59))


def test_day_types_decide_the_hours() -> None:
    assert KUNMING.is_open(at(2026, 10, 12, 8))  # Monday, a working day
    assert not KUNMING.is_open(at(2026, 10, 12, 22))  # 22:00 is closed (end excluded)
    assert not KUNMING.is_open(at(2026, 10, 1, 10))  # National Day: closed
    assert KUNMING.is_open(at(2026, 10, 10, 21))  # make-up Saturday: staffed like a weekday
    assert not KUNMING.is_open(at(2026, 10, 11, 13))  # Sunday lunch break
    assert KUNMING.is_open(at(2026, 10, 11, 15))
    assert not KUNMING.is_open(at(2026, 10, 13, 10))  # a local closed date


def test_next_open_skips_the_holiday_week() -> None:
    # Closed from the evening of Sep 30 through the National Day week; Oct 8 is a working day.
    assert KUNMING.next_open(at(2026, 9, 30, 22, 30)) == at(2026, 10, 8, 8)
    assert KUNMING.next_open(at(2026, 10, 11, 12, 30)) == at(2026, 10, 11, 14)
    assert KUNMING.next_open(at(2026, 10, 12, 9)) == at(2026, 10, 12, 9)


def test_times_are_taken_in_china_time() -> None:
    utc = datetime.fromisoformat("2026-10-12T00:30:00+00:00")  # 08:30 in Shanghai
    assert KUNMING.is_open(utc)


@pytest.mark.parametrize("bad", ["8:00-22:00", "08:00-07:00", "24:30-25:00", "08:00-24:30"])
def test_a_bad_range_is_refused_with_its_text(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"range|24:00|before"):
        HoursConfig(workday=[bad])


def test_the_configurable_clock_runs_on_from_its_start() -> None:
    start = datetime(2026, 10, 1, 3, 0, tzinfo=CENTRE_TZ)
    real = iter([1000.0, 1000.0, 1060.0])  # read at set-up, then at each call
    clock = hours_clock(HoursConfig(clock_start=start), real=lambda: next(real))
    assert clock() == start.timestamp()
    assert clock() == start.timestamp() + 60
    hours = BusinessHours(HoursConfig(workday=["08:00-22:00"], holiday=["09:00-17:00"]))
    assert not hours.is_open(start)  # 03:00 on National Day


def test_the_clock_start_needs_its_offset() -> None:
    with pytest.raises(ValidationError, match="offset"):
        HoursConfig(clock_start=datetime(2026, 10, 1, 3, 0))
