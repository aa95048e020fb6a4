"""The ACD's state: agents, calls and the indexes derived from them, shared by the mixins.

``Acd`` (hotline/acd/core/machine.py) is this state plus, one module each: timers and thresholds
(timers.py), the queue indexes (queues.py), agent moves and staffing (staff.py), estimates
(estimates.py), routing (routing.py), prompts (prompts.py), views (views.py), snapshots
(snapshot.py), then the handlers (agent_handlers.py, callback_handlers.py, machine.py). Each
mixin builds on the one before it, so every call between them is typed.
"""

from __future__ import annotations

import itertools

from hotline.acd.core.policy import MAX_LEVEL, AcdError, AcdPolicy
from hotline.acd.core.pools import Pool
from hotline.acd.core.records import Abandon, Agent, Call


class AcdState:
    def __init__(self, policy: AcdPolicy | None = None) -> None:
        self._policy = policy if policy is not None else AcdPolicy()
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, Call] = {}
        self._next_seq = 0
        self._paused = False  # callbacks paused
        self._handle: dict[str, tuple[float, int]] = {}  # skill -> (mean handle s, samples)
        self._abandons: dict[str, Abandon] = {}  # caller -> last abandon, oldest first
        # Derived from the agents, kept up to date by _move (rebuilt by restore), so that an
        # estimate costs O(agents of one skill) at most, not O(all agents). ``_all``: every
        # skill of every working agent; ``_core``: only the skills an agent has at a level a
        # call may go to before it is widened (the same pool when no skill is restricted).
        self._all = Pool()
        restricted = any(r.initial_max_level < MAX_LEVEL for r in self._policy._all_rules())
        self._core = Pool() if restricted else self._all
        self._ready_agents: dict[str, Agent] = {}  # ready agents
        self._callback_calls: set[str] = set()  # calls in callback, missed or calling
        self._order: list[Call] = []  # every call, in service order (by call.key)
        # skill -> keys of its calls in the queue (waiting, callback, missed), sorted: the
        # competing calls ahead of a call are counted by bisection, not by walking the queue.
        self._queued_keys: dict[str, list[tuple[int, int, int]]] = {}
        self._queue: list[Call] = []  # the calls in the queue, in service order
        self._wrapping: dict[str, Agent] = {}  # agents in wrap-up
        # Timers, derived (rebuilt by restore through _add): for each queued call, the earliest
        # time a threshold, the sticky wait, a retry or a prompt may fire for it, in a heap
        # (lazily deleted: an entry is live while ``_armed`` holds its time), so that a Tick
        # looks only at the calls that are due. Calls whose thresholds may also be crossed by
        # their EWT (which moves with the staffing, not with the clock) are watched on every
        # Tick instead (``_watched``): only those, not the whole queue, are estimated.
        self._timers: list[tuple[float, int, str]] = []
        self._armed: dict[str, float] = {}  # call_id -> time of its live heap entry
        self._watched: set[str] = set()
        self._timer_seq = itertools.count()

    @property
    def policy(self) -> AcdPolicy:
        return self._policy

    @property
    def callbacks_paused(self) -> bool:
        return self._paused

    def mean_handle_s(self, skill: str) -> float:
        """The learned mean handle time (talk + wrap-up) of ``skill``, or the prior."""
        learned = self._handle.get(skill)
        return self._policy.handle_prior_s if learned is None else learned[0]

    # -- lookups that raise AcdError -----------------------------------------------------------
    def _agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        return agent

    def _call(self, call_id: str) -> Call:
        call = self._calls.get(call_id)
        if call is None:
            raise AcdError(f"call {call_id!r} is not in the ACD")
        return call
