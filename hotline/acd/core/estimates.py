"""Estimated wait (the formula and why are in hotline/acd/ewt.py): position and EWT of queued calls,
one by one (bisection over the per-skill queue keys) or in one pass over the queue.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

from hotline.acd import ewt
from hotline.acd.core.pools import Pool
from hotline.acd.core.records import Call, Estimates
from hotline.acd.core.staff import Staff

# Estimates of more than 1 / ONE_PASS_SHARE of the calls are worked out in one pass over the
# queue rather than one by one (the same figures either way).
ONE_PASS_SHARE = 4


class Estimator(Staff):
    def _pool(self, call: Call, at: float) -> Pool:
        """The agents a call may go to now, for its estimate."""
        return self._all if self._core is self._all or self._stage(call, at)[0] else self._core

    def _estimates(self, at: float, wanted: Callable[[Call], bool] | None = None) -> Estimates:
        """(position, EWT) of the calls in the queue (waiting, callback, missed): all of them,
        or those ``wanted`` (the others are only counted)."""
        queue = self._queue_order()
        split = self._core is not self._all
        pools: list[Pool | None] = [
            None if wanted is not None and not wanted(c)
            else (self._pool(c, at) if split else self._all)
            for c in queue
        ]  # fmt: skip
        skills: dict[int, set[str]] = {}
        for call, pool in zip(queue, pools, strict=True):
            if pool is not None:
                skills.setdefault(id(pool), set()).add(call.skill)
        wrapup = self._policy.wrapup_s
        staffs = {
            id(pool): pool.staffing(at, skills[id(pool)], wrapup)
            for pool in (self._all, self._core)
            if id(pool) in skills
        }
        found = ewt.queue_estimates(
            [
                (c.skill, None if p is None else staffs[id(p)])
                for c, p in zip(queue, pools, strict=True)
            ],
            self.mean_handle_s,
        )
        return {c.call_id: est for c, est in zip(queue, found, strict=True) if est is not None}

    def _estimates_of(self, calls: Iterable[Call], at: float) -> Estimates:
        """(position, EWT) of some queued calls, as ``_estimates`` gives them: one by one
        (O(skills * log calls) each), or in one pass over the queue when they are many."""
        calls = list(calls)
        if len(calls) * ONE_PASS_SHARE > len(self._order):
            wanted = {c.call_id for c in calls}
            return self._estimates(at, lambda c: c.call_id in wanted)
        found: Estimates = {}
        known: dict[tuple[str, int], tuple[ewt.Staffing, list[tuple[str, float]]]] = {}
        queued, wrapup = self._queued_keys, self._policy.wrapup_s
        for call in calls:
            pool = self._pool(call, at)
            staff_rivals = known.get((call.skill, id(pool)))
            if staff_rivals is None:
                staff = pool.staffing(at, (call.skill,), wrapup)
                staff_rivals = known[call.skill, id(pool)] = (
                    staff,
                    ewt.competitors(call.skill, staff),
                )
            staff, rivals = staff_rivals
            key = call.key
            ahead = {s: bisect.bisect_left(queued[s], key) for s, _ in rivals if s in queued}
            found[call.call_id] = ewt.estimate_among(
                call.skill, rivals, ahead, staff, self.mean_handle_s
            )
        return found

    def _estimate_new(self, call: Call, at: float) -> tuple[int, float | None]:
        """(position, EWT) of one queued call: the same as ``_estimates`` gives it, in O(calls)."""
        key = call.key
        ahead = {skill: bisect.bisect_left(keys, key) for skill, keys in self._queued_keys.items()}
        staff = self._pool(call, at).staffing(at, (call.skill,), self._policy.wrapup_s)
        return ewt.estimate_call(call.skill, ahead, staff, self.mean_handle_s)
