"""Service metrics per skill and per 15-minute interval, the figures a 12345 centre is judged by.

Pure: finished call records and agent state changes in, figures out. The engine feeds it live
(and, on start, with today's records from the ticket store, so a restart loses no figures);
reports and `hotline status` read it.

Definitions (docs/DOMAIN.md):
- offered: calls that reached the queue (entered the ACD) in the interval, by queue entry time;
  calls that hung up in the IVR never asked for an agent and are not offered, nor are calls the
  IVR sent on as emergencies (110/119/120/122) before an agent answered.
- answered: offered calls an agent answered. service level = answered within the target (15 s)
  / offered — abandoned calls count against it, as the national standard counts them.
- ASA (average speed of answer): mean wait of answered calls.
- abandoned: offered calls that hung up before an answer; those that waited less than 5 s are
  also counted apart (``abandoned_short``): they say little about the centre's speed.
- longest wait: the longest wait of any offered call (answered or not).
- occupancy: time agents spent ringing, on a call or in wrap-up / time they were logged in,
  over all agents (an agent's time is not split between skills).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hotline.calls.records import CallOutcome, CallRecord

INTERVAL_S = 15 * 60
TARGET_S = 15.0
SHORT_ABANDON_S = 5.0
ALL = "*"
BUSY_STATES = frozenset({"ringing", "on_call", "wrap_up"})


def interval_start(ts: float, interval_s: int = INTERVAL_S) -> float:
    return math.floor(ts / interval_s) * interval_s


SATISFACTION_ANSWERS = ("satisfied", "basic", "unsatisfied")


def satisfaction_rate(satisfied: int, basic: int, unsatisfied: int) -> float | None:
    """一次一评: (satisfied + basically satisfied) / answers; None without answers."""
    answers = satisfied + basic + unsatisfied
    return (satisfied + basic) / answers if answers else None


@dataclass
class _Bucket:
    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    answer_wait_sum: float = 0.0
    longest_wait_s: float = 0.0
    satisfied: int = 0
    basic: int = 0
    unsatisfied: int = 0

    def add(self, record: CallRecord, target_s: float) -> None:
        wait = record.wait_s or 0.0
        self.offered += 1
        if record.satisfaction in SATISFACTION_ANSWERS:
            setattr(self, record.satisfaction, getattr(self, record.satisfaction) + 1)
        self.longest_wait_s = max(self.longest_wait_s, wait)
        if record.answered_at is not None:
            self.answered += 1
            self.answer_wait_sum += wait
            if wait <= target_s:
                self.answered_in_target += 1
        elif record.outcome is CallOutcome.ABANDONED_QUEUE:
            self.abandoned += 1
            if wait < SHORT_ABANDON_S:
                self.abandoned_short += 1


@dataclass(frozen=True)
class IntervalFigures:
    skill: str
    start: float
    offered: int
    answered: int
    answered_in_target: int
    service_level: float | None
    asa_s: float | None
    abandoned: int
    abandoned_short: int
    longest_wait_s: float
    occupancy: float | None
    satisfied: int = 0
    basic: int = 0
    unsatisfied: int = 0
    satisfaction_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _AgentClock:
    state: str
    since: float


@dataclass
class MetricsBook:
    interval_s: int = INTERVAL_S
    target_s: float = TARGET_S
    _buckets: dict[tuple[str, float], _Bucket] = field(default_factory=dict)
    _seen: dict[str, float] = field(default_factory=dict)  # call id -> its interval
    _agents: dict[str, _AgentClock] = field(default_factory=dict)
    # interval start -> [busy seconds, logged-in seconds]
    _occupancy: dict[float, list[float]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )

    def add_record(self, record: CallRecord) -> bool:
        """Count one finished call once (a record seen again, e.g. reloaded, is ignored)."""
        if record.queued_at is None or record.unique_id in self._seen:
            return False
        if record.outcome is CallOutcome.TRANSFERRED and record.answered_at is None:
            # Queued as the greeting began, then sent on as an emergency by the IVR: the
            # caller never waited for an agent, so the call is not offered.
            return False
        start = interval_start(record.queued_at.timestamp(), self.interval_s)
        self._seen[record.unique_id] = start
        for skill in (record.skill or "general", ALL):
            self._buckets.setdefault((skill, start), _Bucket()).add(record, self.target_s)
        return True

    def agent_state(self, agent_id: str, state: str, at: float) -> None:
        """An agent's state changed at `at`: book the time spent in the previous state."""
        clock = self._agents.get(agent_id)
        if clock is not None:
            self._book(clock.state, clock.since, at)
        if state == "logged_out":
            self._agents.pop(agent_id, None)
        else:
            self._agents[agent_id] = _AgentClock(state, at)

    def _book(self, state: str, start: float, end: float) -> None:
        # Split [start, end) over the intervals it spans.
        t = start
        while t < end:
            bucket = interval_start(t, self.interval_s)
            upto = min(end, bucket + self.interval_s)
            slot = self._occupancy[bucket]
            slot[1] += upto - t
            if state in BUSY_STATES:
                slot[0] += upto - t
            t = upto

    def occupancy(self, start: float, now: float | None = None) -> float | None:
        busy, staffed = self._occupancy.get(start, [0.0, 0.0])
        if now is not None:  # include the time agents have spent in their current state so far
            for clock in self._agents.values():
                lo, hi = max(clock.since, start), min(now, start + self.interval_s)
                if hi > lo:
                    staffed += hi - lo
                    if clock.state in BUSY_STATES:
                        busy += hi - lo
        return busy / staffed if staffed > 0 else None

    def figures(self, start: float, skill: str = ALL, now: float | None = None) -> IntervalFigures:
        b = self._buckets.get((skill, start), _Bucket())
        return IntervalFigures(
            skill=skill,
            start=start,
            offered=b.offered,
            answered=b.answered,
            answered_in_target=b.answered_in_target,
            service_level=b.answered_in_target / b.offered if b.offered else None,
            asa_s=b.answer_wait_sum / b.answered if b.answered else None,
            abandoned=b.abandoned,
            abandoned_short=b.abandoned_short,
            longest_wait_s=b.longest_wait_s,
            occupancy=self.occupancy(start, now),
            satisfied=b.satisfied,
            basic=b.basic,
            unsatisfied=b.unsatisfied,
            satisfaction_rate=satisfaction_rate(b.satisfied, b.basic, b.unsatisfied),
        )

    def totals(self, start: float, end: float, skill: str = ALL) -> IntervalFigures:
        """One set of figures over the intervals in [start, end), e.g. "today"."""
        total = _Bucket()
        busy = staffed = 0.0
        for (s, t), b in self._buckets.items():
            if s == skill and start <= t < end:
                total.offered += b.offered
                total.answered += b.answered
                total.answered_in_target += b.answered_in_target
                total.abandoned += b.abandoned
                total.abandoned_short += b.abandoned_short
                total.answer_wait_sum += b.answer_wait_sum
                total.longest_wait_s = max(total.longest_wait_s, b.longest_wait_s)
                total.satisfied += b.satisfied
                total.basic += b.basic
                total.unsatisfied += b.unsatisfied
        for t, (b_s, st_s) in self._occupancy.items():
            if start <= t < end:
                busy += b_s
                staffed += st_s
        return IntervalFigures(
            skill=skill,
            start=start,
            offered=total.offered,
            answered=total.answered,
            answered_in_target=total.answered_in_target,
            service_level=total.answered_in_target / total.offered if total.offered else None,
            asa_s=total.answer_wait_sum / total.answered if total.answered else None,
            abandoned=total.abandoned,
            abandoned_short=total.abandoned_short,
            longest_wait_s=total.longest_wait_s,
            occupancy=busy / staffed if staffed else None,
            satisfied=total.satisfied,
            basic=total.basic,
            unsatisfied=total.unsatisfied,
            satisfaction_rate=satisfaction_rate(total.satisfied, total.basic, total.unsatisfied),
        )

    def skills(self, start: float, end: float | None = None) -> list[str]:
        """Skills with figures in the interval starting at `start`, or in [start, end)."""
        if end is None:
            return sorted({s for s, t in self._buckets if t == start})
        return sorted({s for s, t in self._buckets if start <= t < end})

    def current(self, now: float) -> list[IntervalFigures]:
        """Figures of the interval `now` falls in, for every skill seen plus the total."""
        start = interval_start(now, self.interval_s)
        skills = self.skills(start) or [ALL]
        return [self.figures(start, s, now) for s in skills]

    def forget_before(self, ts: float) -> None:
        """Drop intervals older than `ts` (the engine keeps a day; the store keeps the rest)."""
        self._buckets = {k: v for k, v in self._buckets.items() if k[1] >= ts}
        self._seen = {k: v for k, v in self._seen.items() if v >= ts}
        for start in [s for s in self._occupancy if s < ts]:
            del self._occupancy[start]
