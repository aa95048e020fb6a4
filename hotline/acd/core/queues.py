"""The queue indexes: every call in service order, the queue (waiting, callback, missed) in
service order, and per skill the sorted keys of its queued calls (positions by bisection).

Service order (``Call.key``): live calls and accepted callbacks by priority (higher first),
then queue sequence (FIFO); then the missed-call list in the same order, unless
``missed_callback_priority`` puts it in the live queue at that priority.
"""

from __future__ import annotations

import bisect

from hotline.acd.core.records import CALLBACKS, QUEUED, Call, by_key
from hotline.acd.core.timers import Timers


class Queues(Timers):
    def _key(self, call: Call) -> tuple[int, int, int]:
        """Service order (set as ``call.key`` when the call is queued or listed as missed):
        live calls and accepted callbacks by priority then sequence, then the missed list."""
        if call.missed:
            priority = self._policy.missed_callback_priority
            if priority is None:
                return (1, -call.priority, call.seq)
            return (0, -priority, call.seq)
        return (0, -call.priority, call.seq)

    def _add(self, call: Call) -> None:
        """A call enters the ACD (or the missed-call list): kept in service order."""
        call.key = self._key(call)
        self._calls[call.call_id] = call
        bisect.insort(self._order, call, key=by_key)
        if call.state in QUEUED:
            self._enqueue(call)
        if call.state in CALLBACKS:
            self._callback_calls.add(call.call_id)

    def _drop(self, call: Call) -> None:
        """A call leaves the ACD."""
        del self._calls[call.call_id]
        index = bisect.bisect_left(self._order, call.key, key=by_key)
        assert self._order[index] is call
        del self._order[index]
        if call.state in QUEUED:
            self._dequeue(call)
        self._callback_calls.discard(call.call_id)
        self._armed.pop(call.call_id, None)
        self._watched.discard(call.call_id)

    def _enqueue(self, call: Call) -> None:
        """A call (back) in the queue: counted ahead of the calls after it, and timed."""
        bisect.insort(self._queued_keys.setdefault(call.skill, []), call.key)
        bisect.insort(self._queue, call, key=by_key)
        self._arm(call)

    def _dequeue(self, call: Call) -> None:
        """A call out of the queue (offered, being placed, or gone)."""
        keys = self._queued_keys[call.skill]
        index = bisect.bisect_left(keys, call.key)
        assert keys[index] == call.key
        del keys[index]
        if not keys:
            del self._queued_keys[call.skill]
        index = bisect.bisect_left(self._queue, call.key, key=by_key)
        assert self._queue[index] is call
        del self._queue[index]

    def _in_service_order(self) -> list[Call]:
        return list(self._order)

    def _queue_order(self) -> list[Call]:
        """The calls in the queue (waiting, callback, missed), in service order."""
        return list(self._queue)
