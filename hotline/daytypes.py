"""Day types of China's calendar: working day, rest day, public holiday, make-up working day.

A 12345 centre's traffic, staffing and opening hours differ by day type, and the calendar moves
every year (the State Council publishes holidays and make-up working days, 调休); the
chinese-calendar package carries that schedule.
"""

from __future__ import annotations

import enum
from datetime import date

import chinese_calendar


class DayType(enum.StrEnum):
    WORKDAY = "workday"
    REST_DAY = "rest_day"
    HOLIDAY = "holiday"
    MAKEUP_WORKDAY = "makeup_workday"


def day_type(day: date) -> DayType:
    """The day's type from the national calendar (ValueError outside the package's years)."""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError as exc:
        raise ValueError(f"{day}: outside the years chinese-calendar knows ({exc})") from None
    if on_holiday:
        return DayType.HOLIDAY if name else DayType.REST_DAY
    return DayType.MAKEUP_WORKDAY if day.weekday() >= 5 else DayType.WORKDAY
