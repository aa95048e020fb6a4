"""Thresholds and timers: when a queued call's rules (widen, overflow, sticky wait, retry,
prompts) may fire, kept in a lazily deleted heap so a Tick looks only at the calls that are due.

A threshold T is crossed when ``waited >= T``, or, with ``thresholds_use_ewt``, when
``waited + EWT >= T``; widening and overflow are latched on the call.
"""

from __future__ import annotations

import heapq
import math

from hotline.acd.core.records import QUEUED, Call, CallState, by_key, waited_since
from hotline.acd.core.state import AcdState


class Timers(AcdState):
    def _crossed(self, threshold: float | None, waited: float, ewt_s: float | None) -> bool:
        if threshold is None:
            return False
        if waited >= threshold:
            return True
        return self._policy.thresholds_use_ewt and ewt_s is not None and waited + ewt_s >= threshold

    def _latch(self, call: Call, at: float, ewt_s: float | None) -> bool:
        """Latch the thresholds a queued call has crossed; True if it may go to more agents."""
        rules = self._policy.rules(call.skill)
        waited = waited_since(at, call.queued_at)
        changed = False
        if not call.overflowed and self._crossed(rules.overflow_after_s, waited, ewt_s):
            call.overflowed = call.widened = changed = True
        if not call.widened and self._crossed(rules.widen_after_s, waited, ewt_s):
            call.widened = changed = True
        sticky = call.preferred_agent is not None and not call.sticky_over
        if sticky and at >= call.queued_at + rules.sticky_wait_s:
            call.sticky_over = changed = True
        if call.retry_at is not None and at >= call.retry_at:
            call.retry_at, changed = None, True
        return changed

    def _level_ewt_wanted(self, call: Call, at: float) -> bool:
        """Whether widening or overflow of this call may still be triggered by its EWT."""
        rules = self._policy.rules(call.skill)
        waited = waited_since(at, call.queued_at)
        after_s = rules.overflow_after_s
        if after_s is not None and not call.overflowed and waited < after_s:
            return True
        after_s = rules.widen_after_s
        return after_s is not None and not call.widened and waited < after_s

    def _stage(self, call: Call, at: float) -> tuple[bool, bool]:
        """(widened, overflowed): latched, or crossed by the time waited."""
        rules = self._policy.rules(call.skill)
        waited = at - call.queued_at
        overflowed = call.overflowed or (
            rules.overflow_after_s is not None and waited >= rules.overflow_after_s
        )
        widened = (
            overflowed
            or call.widened
            or (rules.widen_after_s is not None and waited >= rules.widen_after_s)
        )
        return widened, overflowed

    def _arm(self, call: Call) -> None:
        """(Re)set the timer of a queued call: the earliest time at which ``_latch`` or
        ``_speak`` may find something to do for it, and whether its EWT must be watched."""
        rules, q = self._policy.rules(call.skill), call.queued_at
        use_ewt = self._policy.thresholds_use_ewt
        times: list[float] = []
        watch = False
        if rules.overflow_after_s is not None and not call.overflowed:
            times.append(_after(q, rules.overflow_after_s))
            watch = use_ewt
        if rules.widen_after_s is not None and not call.widened:
            times.append(_after(q, rules.widen_after_s))
            watch = use_ewt
        if call.preferred_agent is not None and not call.sticky_over:
            times.append(q + rules.sticky_wait_s)
        if call.retry_at is not None:
            times.append(call.retry_at)
        if call.state is CallState.WAITING:
            if rules.voicemail_after_s is not None:
                times.append(_after(q, rules.voicemail_after_s))
                watch = watch or use_ewt
            if rules.announce_every_s > 0:
                last = q if call.announced_at is None else call.announced_at
                times.append(last + rules.announce_every_s)
            if rules.offer_callback_after_s is not None and not call.callback_offered:
                times.append(_after(q, rules.offer_callback_after_s))
                watch = watch or use_ewt
        if watch:
            self._watched.add(call.call_id)
        else:
            self._watched.discard(call.call_id)
        when = min(times, default=None)
        if when is None:
            self._armed.pop(call.call_id, None)
        elif self._armed.get(call.call_id) != when:
            self._armed[call.call_id] = when
            heapq.heappush(self._timers, (when, next(self._timer_seq), call.call_id))

    def _due(self, at: float) -> list[Call]:
        """The queued calls whose timer is due at ``at`` or that are watched, in service
        order. A superset of the calls a Tick may act on: each is checked exactly."""
        limit = at + (abs(at) + 1.0) * 1e-9  # early rather than late: sums round
        found: dict[str, Call] = {}
        timers, armed = self._timers, self._armed
        while timers and timers[0][0] <= limit:
            when, _, call_id = heapq.heappop(timers)
            if armed.get(call_id) != when:
                continue  # replaced by a later entry, or the call is gone
            del armed[call_id]
            call = self._calls[call_id]
            if call.state in QUEUED:  # else armed again when it is back in the queue
                found[call_id] = call
        for call_id in list(self._watched):
            call = self._calls[call_id]
            if call.state in QUEUED:
                found[call_id] = call
            else:
                self._watched.discard(call_id)
        return sorted(found.values(), key=by_key)


def _after(start: float, threshold_s: float) -> float:
    """When ``waited_since(at, start) >= threshold_s`` becomes true (always, for 0)."""
    return start + threshold_s if threshold_s > 0 else -math.inf
