"""Staffing: how many agents each half hour needs to answer within 15 s, by Erlang C.

Pure: finished call records in, a plan out. The forecast for a day takes the history of days of
the same *day type* — a normal working day, a weekend rest day, a public holiday (节假日), or a
make-up working day (调休上班) — because a 12345 centre's traffic differs sharply between them
and the calendar moves every year (hotline.base.daytypes: the centre's one calendar).

Per 30-minute interval: forecast calls = mean of that interval's offered calls over the history
days of the type; handle time = mean talk time of the answered calls in that interval over the
history (the whole history's mean when the interval has too few answered calls, so an empty
night slot does not get a random handle time), plus the configured wrap-up. Agents needed =
Erlang C's fewest agents holding the goal (e.g. 95 %) within the target (15 s).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.acd.erlang import agents_for_service_level, service_level
from hotline.base.daytypes import DEFAULT_CALENDAR, ChinaCalendar, DayType, day_type
from hotline.calls.records import CallRecord

CENTRE_TZ = ZoneInfo("Asia/Shanghai")
SLOT_S = 30 * 60
SLOTS_PER_DAY = 48
MIN_ANSWERED_FOR_SLOT_AHT = 10


@dataclass(frozen=True)
class SlotPlan:
    start: str
    """Local time of the slot's start, "HH:MM"."""
    forecast_calls: float
    handle_s: float
    agents: int
    service_level: float
    """Erlang C's service level within the target with that many agents."""


@dataclass(frozen=True)
class StaffingPlan:
    day: date
    day_type: DayType
    history_days: list[date]
    target_s: float
    goal: float
    slots: list[SlotPlan]

    @property
    def peak_agents(self) -> int:
        return max((s.agents for s in self.slots), default=0)

    @property
    def agent_hours(self) -> float:
        return sum(s.agents for s in self.slots) * SLOT_S / 3600


def _local(dt: datetime) -> datetime:
    return dt.astimezone(CENTRE_TZ)


def plan_day(
    day: date,
    records: Iterable[CallRecord],
    *,
    target_s: float = 15.0,
    goal: float = 0.95,
    wrapup_s: float = 0.0,
    default_handle_s: float = 180.0,
    calendar: ChinaCalendar = DEFAULT_CALENDAR,
) -> StaffingPlan:
    """Plan `day` from the records of earlier days (records on or after `day` are ignored)."""
    wanted = calendar.day_type(day)
    counts: dict[date, list[int]] = {}
    talk: dict[int, list[float]] = defaultdict(list)
    all_talk: list[float] = []
    for r in records:
        if r.queued_at is None:
            continue
        local = _local(r.queued_at)
        d = local.date()
        if d >= day or calendar.day_type(d) is not wanted:
            continue
        slot = (local.hour * 60 + local.minute) // 30
        counts.setdefault(d, [0] * SLOTS_PER_DAY)[slot] += 1
        if r.answered_at is not None:
            secs = max(0.0, (r.ended_at - r.answered_at).total_seconds())
            talk[slot].append(secs)
            all_talk.append(secs)
    history = sorted(counts)
    overall = sum(all_talk) / len(all_talk) if all_talk else default_handle_s
    slots = []
    midnight = datetime.combine(day, datetime.min.time())
    for slot in range(SLOTS_PER_DAY):
        calls = sum(c[slot] for c in counts.values()) / len(history) if history else 0.0
        samples = talk.get(slot, [])
        talk_s = (
            sum(samples) / len(samples) if len(samples) >= MIN_ANSWERED_FOR_SLOT_AHT else overall
        )
        handle = max(1.0, talk_s + wrapup_s)
        rate = calls / SLOT_S
        agents = agents_for_service_level(rate, handle, target_s, goal) if calls > 0 else 0
        sl = service_level(agents, rate, handle, target_s) if agents else 1.0
        start = (midnight + timedelta(seconds=slot * SLOT_S)).strftime("%H:%M")
        slots.append(SlotPlan(start, round(calls, 2), round(handle, 1), agents, sl))
    return StaffingPlan(day, wanted, history, target_s, goal, slots)


def format_plan(plan: StaffingPlan) -> str:
    lines = [
        f"staffing plan for {plan.day} ({plan.day_type}), {plan.goal:.0%} answered within "
        f"{plan.target_s:.0f} s, from {len(plan.history_days)} earlier {plan.day_type} day(s)",
        "  slot   calls  handle s  agents  SL(Erlang C)",
    ]
    for s in plan.slots:
        if s.forecast_calls == 0 and s.agents == 0:
            continue
        lines.append(
            f"  {s.start}  {s.forecast_calls:6.1f}  {s.handle_s:8.1f}  {s.agents:6d}  "
            f"{s.service_level:11.1%}"
        )
    if len(lines) == 2:
        lines.append("  (no calls in the history for this day type)")
    lines.append(f"peak {plan.peak_agents} agents, {plan.agent_hours:.1f} agent-hours")
    return "\n".join(lines)


def history_window(day: date, days: int) -> tuple[datetime, datetime]:
    """UTC-aware [start, end) covering `days` local days before `day`."""
    end = datetime.combine(day, datetime.min.time(), CENTRE_TZ)
    return end - timedelta(days=days), end


def erlangs(calls: float, handle_s: float) -> float:
    return calls * handle_s / SLOT_S if calls else 0.0


__all__ = [
    "DayType",
    "SlotPlan",
    "StaffingPlan",
    "day_type",
    "erlangs",
    "format_plan",
    "history_window",
    "plan_day",
]
