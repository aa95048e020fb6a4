"""The wallboard's chart: today's offered calls per half hour against the agents staffed and the
staffing plan (Erlang C, hotline/acd/staffing.py).

* Offered: today's call records that reached the queue, by the half hour (centre time) they were
  queued in; a call shows up once it has ended (the record is written at hang-up).
* Staffed: the most agents logged in at once in each half hour, sampled by the desktop while the
  engine runs (a restart starts today's samples again).
* Planned: agents the plan for today's day type needs, from the last ``HISTORY_DAYS`` days of
  records; computed once a day (it reads weeks of records).

``rows`` is pure; ``ChartSource`` reads the store (from a worker thread) and caches the plan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from hotline.acd.staffing import (
    CENTRE_TZ,
    SLOT_S,
    SLOTS_PER_DAY,
    StaffingPlan,
    history_window,
    plan_day,
)
from hotline.base.daytypes import DEFAULT_CALENDAR, ChinaCalendar
from hotline.calls.records import CallRecord

log = logging.getLogger(__name__)

HISTORY_DAYS = 28


def slot_of(at: datetime) -> int:
    local = at.astimezone(CENTRE_TZ)
    return (local.hour * 60 + local.minute) // 30


def offered_by_slot(records: Iterable[CallRecord], day: date) -> list[int]:
    counts = [0] * SLOTS_PER_DAY
    for record in records:
        if record.queued_at is not None and record.queued_at.astimezone(CENTRE_TZ).date() == day:
            counts[slot_of(record.queued_at)] += 1
    return counts


def rows(
    offered: list[int], staffed: Mapping[int, int], plan: StaffingPlan | None, now_slot: int
) -> list[dict[str, Any]]:
    """One row per half hour of the day; slots after now have no offered or staffed figure."""
    out = []
    for slot in range(SLOTS_PER_DAY):
        minutes = slot * 30
        past = slot <= now_slot
        out.append(
            {
                "start": f"{minutes // 60:02d}:{minutes % 60:02d}",
                "offered": offered[slot] if past else None,
                "staffed": staffed.get(slot, 0) if past else None,
                "planned": plan.slots[slot].agents if plan is not None else None,
            }
        )
    return out


class ChartSource:
    def __init__(
        self,
        records: Callable[[datetime, datetime], list[CallRecord]],
        *,
        wrapup_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(CENTRE_TZ),
        calendar: ChinaCalendar = DEFAULT_CALENDAR,
    ) -> None:
        self._records = records
        self._calendar = calendar
        self._wrapup_s = wrapup_s
        self._clock = clock
        self._plan: tuple[date, StaffingPlan] | None = None
        self.staffed: dict[int, int] = {}  # half-hour slot of today -> most agents logged in
        self._staffed_day: date | None = None

    def sample(self, logged_in: int) -> None:
        """Note how many agents are logged in now (called every second or so)."""
        now = self._clock().astimezone(CENTRE_TZ)
        if now.date() != self._staffed_day:
            self.staffed, self._staffed_day = {}, now.date()
        slot = slot_of(now)
        self.staffed[slot] = max(self.staffed.get(slot, 0), logged_in)

    def _plan_for(self, day: date) -> StaffingPlan | None:
        if self._plan is not None and self._plan[0] == day:
            return self._plan[1]
        start, end = history_window(day, HISTORY_DAYS)
        try:
            plan = plan_day(
                day, self._records(start, end), wrapup_s=self._wrapup_s, calendar=self._calendar
            )
        except Exception as exc:  # the store may be away: the chart goes without the plan
            log.warning("staffing plan for %s not made: %s", day, exc)
            return None
        self._plan = (day, plan)
        return plan

    def _build(self) -> dict[str, Any]:
        now = self._clock().astimezone(CENTRE_TZ)
        day = now.date()
        midnight = datetime.combine(day, datetime.min.time(), CENTRE_TZ)
        try:
            today = self._records(midnight, midnight + timedelta(days=1))
        except Exception as exc:
            log.warning("today's call records not read for the chart: %s", exc)
            today = []
        plan = self._plan_for(day)
        return {
            "type": "chart",
            "day": day.isoformat(),
            "slot_s": SLOT_S,
            "history_days": len(plan.history_days) if plan is not None else 0,
            "rows": rows(offered_by_slot(today, day), dict(self.staffed), plan, slot_of(now)),
        }

    async def build(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._build)
