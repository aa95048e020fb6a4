"""Working agents summed per skill (``Pool``), for the EWT: derived state, never in a snapshot.

Kept up to date on every agent move, so an estimate costs O(agents of one skill) at most.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hotline.acd import ewt
from hotline.acd.core.records import Agent
from hotline.acd.events import AgentState


class Pool:
    """Working agents summed per skill, for the EWT (derived state, never in the snapshot)."""

    __slots__ = ("busy", "ready_n", "shared", "staffed", "wrap")

    def __init__(self) -> None:
        self.staffed: dict[str, int] = {}  # skill -> working agents with it
        self.ready_n: dict[str, int] = {}  # skill -> ready agents with it
        self.busy: dict[str, dict[str, float]] = {}  # skill -> ringing/on-call agent -> free_at
        self.wrap: dict[str, dict[str, float]] = {}  # skill -> agent in wrap-up -> free_at
        self.shared: dict[str, dict[str, int]] = {}  # skill -> other skill -> agents with both

    def update(self, agent: Agent, names: tuple[str, ...], *, add: bool) -> None:
        state, step = agent.state, 1 if add else -1
        for skill in names:
            _bump(self.staffed, skill, step)
            if state is AgentState.READY:
                _bump(self.ready_n, skill, step)
            else:
                group = self.wrap if state is AgentState.WRAP_UP else self.busy
                until = group.setdefault(skill, {})
                if add:
                    until[agent.agent_id] = agent.free_at
                else:
                    del until[agent.agent_id]
                    if not until:
                        del group[skill]
            if len(names) > 1:
                row = self.shared.setdefault(skill, {})
                for other in names:
                    if other != skill:
                        _bump(row, other, step)
                if not row:
                    del self.shared[skill]

    def next_free_s(self, skill: str, at: float, wrapup_s: float) -> float:
        """The shortest expected remaining busy time among the skill's working agents."""
        if self.ready_n.get(skill):
            return 0.0
        best = math.inf
        busy = self.busy.get(skill)
        if busy:  # on a call past its expected end: at least the wrap-up is still to come
            best = max(min(busy.values()) - at, wrapup_s)
        wrap = self.wrap.get(skill)
        if wrap:
            best = min(best, max(min(wrap.values()) - at, 0.0))
        return best if math.isfinite(best) else 0.0

    def staffing(self, at: float, skills: Iterable[str], wrapup_s: float) -> ewt.Staffing:
        next_free = {skill: self.next_free_s(skill, at, wrapup_s) for skill in skills}
        return ewt.Staffing(self.staffed, next_free, self.shared)


def _bump(counts: dict[str, int], key: str, step: int) -> None:
    n = counts.get(key, 0) + step
    if n:
        counts[key] = n
    else:
        del counts[key]
