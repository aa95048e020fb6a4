"""Staffing by Erlang C per half hour, with China's calendar day types."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from hotline.acd.staffing import DayType, day_type, format_plan, plan_day
from hotline.base.daytypes import CENTRE_TZ
from hotline.calls.records import CallOutcome, CallRecord

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)


def test_day_types_follow_the_2026_national_day_schedule() -> None:
    assert day_type(date(2026, 10, 1)) is DayType.HOLIDAY
    assert day_type(date(2026, 10, 10)) is DayType.MAKEUP_WORKDAY  # a Saturday at work
    assert day_type(date(2026, 10, 11)) is DayType.REST_DAY
    assert day_type(date(2026, 10, 12)) is DayType.WORKDAY
    with pytest.raises(ValueError, match="outside"):
        day_type(date(1999, 1, 4))


def calls_on(day: date, hour: int, n: int, talk_s: float, tag: str) -> list[CallRecord]:
    out = []
    start = datetime(day.year, day.month, day.day, hour, 0, tzinfo=CENTRE_TZ)
    for i in range(n):
        queued = start + timedelta(seconds=i * 1800 / n)
        answered = queued + timedelta(seconds=5)
        out.append(
            CallRecord(
                unique_id=f"{tag}-{day}-{hour}-{i}",
                linked_id="x",
                caller="138",
                dialled="12345",
                arrived_at=queued - timedelta(seconds=20),
                ended_at=answered + timedelta(seconds=talk_s),
                outcome=CallOutcome.ANSWERED,
                queued_at=queued,
                answered_at=answered,
                skill="general",
            )
        )
    return out


def test_a_workday_is_planned_from_earlier_workdays_only() -> None:
    records: list[CallRecord] = []
    for d in (date(2026, 10, 12), date(2026, 10, 13), date(2026, 10, 14)):  # Mon-Wed
        records += calls_on(d, 10, 90, 120, "w")
    records += calls_on(date(2026, 10, 3), 10, 900, 600, "h")  # a holiday: other day type
    records += calls_on(date(2026, 10, 16), 10, 900, 600, "future")  # after the planned day
    plan = plan_day(date(2026, 10, 15), records, wrapup_s=30)
    assert plan.day_type is DayType.WORKDAY
    assert plan.history_days == [date(2026, 10, 12), date(2026, 10, 13), date(2026, 10, 14)]
    slot = next(s for s in plan.slots if s.start == "10:00")
    assert slot.forecast_calls == 90 and slot.handle_s == 150
    # 90 calls in 30 min of 150 s = 7.5 Erlangs. Erlang C by hand (not the code under test):
    # 12 agents answer 93.9 % within 15 s, 13 agents 97.1 %: 13 is the fewest for 95 %.
    assert slot.agents == 13
    assert abs(slot.service_level - 0.9714) < 0.0005
    assert all(s.agents == 0 for s in plan.slots if s.start != "10:00")
    assert plan.peak_agents == slot.agents
    text = format_plan(plan)
    assert "10:00" in text and "workday" in text and "09:30" not in text


def test_a_holiday_is_planned_from_holidays_and_an_empty_history_says_so() -> None:
    records = calls_on(date(2026, 10, 2), 9, 300, 200, "h")
    plan = plan_day(date(2026, 10, 5), records)
    assert plan.day_type is DayType.HOLIDAY and plan.history_days == [date(2026, 10, 2)]
    assert next(s for s in plan.slots if s.start == "09:00").agents > 0
    empty = plan_day(date(2026, 10, 10), records)  # a make-up Saturday: no such day in history
    assert empty.peak_agents == 0
    assert "no calls in the history" in format_plan(empty)
