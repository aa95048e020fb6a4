"""Estimated wait time (EWT) of waiting calls: pure functions, no state, no clock.

The estimate is forward-looking: it comes from where the call stands in the queue and from the
agents who can take it, not from how long earlier callers waited. Asterisk's app_queue announces
a running average of past holds, ``(3 * old + new) / 4`` (``app_queue_holdtime``, kept here for
comparison); that lags every change of load or staffing by several calls and says the same to
the first and the fiftieth caller in the queue.

The formula
-----------
For a call of skill ``s``::

    slot  = h / N
    EWT   = min(r, slot) + k * slot          (None when N == 0: nobody can take the call)

- ``N``: agents staffed for the call: logged in with skill ``s`` and working, that is ready,
  ringing, on a call or in wrap-up. Before the call is widened only those at a level it may go
  to (``initial_max_level``) count, after that every level: the estimate is the wait for the
  agents the call may have now, which is also what decides whether it should be widened. An
  agent on a not-ready break is left out: nothing says when they come back, and counting them
  would promise capacity that is not there.
- ``h``: the mean handle time of ``s`` (talk + wrap-up), a running mean learned from the calls
  that ended (``running_mean``), starting from a configured prior (e.g. 180 s).
- ``k``: the calls ahead that compete for the same agents. A call ahead of the same skill counts
  1; a call ahead of another skill ``t`` counts the share of ``t``'s staffed agents who also
  have ``s`` (``shared(s, t) / N_t``): the chance that the agent who takes it is one of ours.
  Calls of skills that share no agent with ``s`` do not count. ``position`` is 1 + the number of
  competing calls ahead (each counted whole).
- ``r``: the shortest expected remaining busy time among the ``N`` agents: 0 for a ready agent,
  what is left of wrap-up; for an agent on a call, the mean handle time of the call's skill (as
  learned when it was answered) minus the time already talked, but at least the wrap-up still
  to come; a whole handle time for a ringing one.

Why: with all ``N`` agents busy, agents become free at a rate of about ``N / h``, so each call
ahead uses up one ``slot`` of ``h / N`` seconds and the call itself waits for one more:
``(k + 1) * h / N``. That first slot is where we know better when an agent is about to be free:
if the next agent is expected free in ``r < h / N`` seconds, the first slot is only ``r`` long,
so ``(k + 1) * slot`` becomes ``r + k * slot`` ("minus the shortest remaining busy time"). When
no agent is close to the end (all just started), the memoryless ``slot`` is kept: it is the
expected time to the first of ``N`` exponential departures. With one agent and a known
remaining time the formula is exact for fixed handle times; for many agents it tends to the
fluid ``k * h / N``. What it does not forecast: callers ahead who hang up (it overestimates
under heavy abandonment), calls of higher priority that arrive later and go ahead, agents who
log in, come back from a break or log out, sticky routing (a call waiting for one agent), and
a later widening or overflow (overflow agents of other skills are never counted). The deviation
is measured rather than assumed: ``CallEstimate`` is emitted at queue entry for every call, to
be compared with its actual wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StaffedAgent:
    """One working agent as the estimator sees it."""

    skills: tuple[str, ...]
    free_in_s: float  # expected seconds until the agent can take a call; 0 when ready


@dataclass(frozen=True, slots=True)
class Staffing:
    """Who can take what, summed over the working agents."""

    agents: Mapping[str, int]  # skill -> staffed agents with it
    next_free_s: Mapping[str, float]  # skill -> shortest expected remaining busy time
    shared: Mapping[str, Mapping[str, int]]  # skill -> other skill -> agents with both


def running_mean(mean: float, samples: int, value: float, window: int) -> tuple[float, int]:
    """Fold one handle time into a skill's mean; returns (mean, samples).

    The prior counts as one sample, so the first real call moves the mean half way; after
    ``window`` calls each new one weighs ``1 / window`` (an exponential moving average), so the
    estimate follows a change of the call mix instead of averaging the whole history.
    """
    samples += 1
    return mean + (value - mean) / min(samples + 1, window), samples


def staffing(agents: Iterable[StaffedAgent]) -> Staffing:
    counts: dict[str, int] = {}
    next_free: dict[str, float] = {}
    shared: dict[str, dict[str, int]] = {}
    for agent in agents:
        free_in = max(0.0, agent.free_in_s)
        for skill in agent.skills:
            counts[skill] = counts.get(skill, 0) + 1
            if free_in < next_free.get(skill, float("inf")):
                next_free[skill] = free_in
            if len(agent.skills) > 1:
                row = shared.setdefault(skill, {})
                for other in agent.skills:
                    if other != skill:
                        row[other] = row.get(other, 0) + 1
    return Staffing(counts, next_free, shared)


def estimate_wait_s(
    ahead: float, agents: int, mean_handle_s: float, next_free_s: float
) -> float | None:
    """``min(r, h / N) + k * h / N`` (see the module docstring); None when N is 0."""
    if agents <= 0:
        return None
    slot = mean_handle_s / agents
    return min(max(0.0, next_free_s), slot) + max(0.0, ahead) * slot


def competitors(skill: str, staff: Staffing) -> list[tuple[str, float]]:
    """(skill t, weight of one call of t ahead) for every skill whose calls compete with ours."""
    out = [(skill, 1.0)]
    for other, both in sorted(staff.shared.get(skill, {}).items()):
        if both > 0:
            out.append((other, both / staff.agents[other]))
    return out


def _estimate(
    skill: str,
    rivals: Sequence[tuple[str, float]],
    ahead_by_skill: Mapping[str, int],
    staff: Staffing,
    mean_handle_s: Callable[[str], float],
) -> tuple[int, float | None]:
    ahead, position = 0.0, 1
    for other, weight in rivals:
        n = ahead_by_skill.get(other, 0)
        if n:
            ahead += n * weight
            position += n
    ewt = estimate_wait_s(
        ahead,
        staff.agents.get(skill, 0),
        mean_handle_s(skill),
        staff.next_free_s.get(skill, 0.0),
    )
    return position, ewt


def estimate_call(
    skill: str,
    ahead_by_skill: Mapping[str, int],
    staff: Staffing,
    mean_handle_s: Callable[[str], float],
) -> tuple[int, float | None]:
    """(position, EWT) of one call of ``skill``, given the calls ahead of it per skill."""
    return _estimate(skill, competitors(skill, staff), ahead_by_skill, staff, mean_handle_s)


def estimate_among(
    skill: str,
    rivals: Sequence[tuple[str, float]],
    ahead_by_skill: Mapping[str, int],
    staff: Staffing,
    mean_handle_s: Callable[[str], float],
) -> tuple[int, float | None]:
    """``estimate_call`` with the ``competitors`` already worked out (for many calls of one
    skill and staffing)."""
    return _estimate(skill, rivals, ahead_by_skill, staff, mean_handle_s)


def queue_estimates(
    queue: Sequence[tuple[str, Staffing | None]], mean_handle_s: Callable[[str], float]
) -> list[tuple[int, float | None] | None]:
    """(position, EWT) of each call of ``queue``: (skill, the agents it may go to) of every
    queued call, in service order; a call given no staffing is only counted (None for it).
    One pass, O(len(queue) + wanted calls * skills)."""
    seen: dict[str, int] = {}
    rivals: dict[tuple[str, int], list[tuple[str, float]]] = {}
    out: list[tuple[int, float | None] | None] = []
    for skill, staff in queue:
        if staff is None:
            out.append(None)
        else:
            comp = rivals.get((skill, id(staff)))
            if comp is None:
                comp = rivals[skill, id(staff)] = competitors(skill, staff)
            out.append(_estimate(skill, comp, seen, staff, mean_handle_s))
        seen[skill] = seen.get(skill, 0) + 1
    return out


def app_queue_holdtime(old_average_s: float, new_hold_s: float) -> float:
    """Asterisk app_queue's announced hold time after one more answered call, for comparison."""
    return (3.0 * old_average_s + new_hold_s) / 4.0
