"""``Acd``: ``handle`` dispatches through ``HANDLERS`` (event type -> handler). The calls' own
events and the Tick are handled here; the agents' in agent_handlers.py, callbacks' in
callback_handlers.py.

Each handler checks all its preconditions (the transition tables through ``agent_target`` /
``call_target``, hotline/acd/core/rules.py) before it changes anything; what follows the checks
cannot
fail, so an ``AcdError`` always leaves the ACD unchanged. The rules are in
hotline/acd/core/rules.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hotline.acd import ewt
from hotline.acd.core.callback_handlers import CallbackHandlers
from hotline.acd.core.policy import AcdError
from hotline.acd.core.records import (
    QUEUED,
    Abandon,
    Call,
    CallState,
    Estimates,
    is_name,
    waited_since,
)
from hotline.acd.core.rules import CALLED_AGAIN, agent_target, call_target
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentReady,
    CallAbandoned,
    CallAnswered,
    CallbackAccepted,
    CallbackCancelled,
    CallbackConnected,
    CallbackFailed,
    CallbacksPaused,
    CallbacksResumed,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallLeft,
    CallNeedChanged,
    CallQueued,
    CallWithdrawn,
    CancelOffer,
    Decision,
    Event,
    MissedCallListed,
    OfferFailed,
    Tick,
)


class Acd(CallbackHandlers):
    """The ACD: ``handle(event) -> list[Decision]``; views, ``snapshot()`` and ``restore()``."""

    def handle(self, event: Event) -> list[Decision]:
        """Apply one event; the decisions to carry out, in order. AcdError: nothing changed."""
        at = getattr(event, "at", None)
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise AcdError(f"{type(event).__name__}: 'at' must be a finite number, not {at!r}")
        handler = HANDLERS.get(type(event))
        if handler is None:
            raise AcdError(f"not an ACD event: {event!r}")
        return handler(self, event)

    def _queued(self, e: CallQueued) -> list[Decision]:
        if not is_name(e.call_id):
            raise AcdError(f"call id {e.call_id!r} is not a non-empty string")
        if e.call_id in self._calls:
            known = self._calls[e.call_id]
            raise AcdError(f"call {e.call_id!r} is already in the ACD ({known.state})")
        if isinstance(e.priority, bool) or not isinstance(e.priority, int):
            raise AcdError(f"call {e.call_id!r}: priority {e.priority!r} is not an int")
        if e.preferred_agent is not None and not is_name(e.preferred_agent):
            raise AcdError(
                f"call {e.call_id!r}: preferred agent {e.preferred_agent!r} is not a name"
            )
        state = call_target(None, CallQueued, self._policy, e.at, e.call_id)
        assert state is not None
        at, out = e.at, list[Decision]()
        place = self._old_place(e, out) if isinstance(e.caller, str) and e.caller else None
        seq = self._next_seq if place is None else place
        if place is None:
            self._next_seq += 1
        call = Call(e.call_id, e.skill, e.priority, e.caller, e.channel, at, seq, state)
        call.preferred_agent = e.preferred_agent
        rules = self._policy.rules(e.skill)
        # No wait for an agent who is not there (or when there is no wait at all).
        call.sticky_over = e.preferred_agent is not None and (
            rules.sticky_wait_s <= 0 or e.preferred_agent not in self._agents
        )
        self._add(call)
        position, ewt_s = self._estimate_new(call, at)
        if self._latch(call, at, ewt_s) and self._core is not self._all:
            position, ewt_s = self._estimate_new(call, at)  # widened: more agents
        out.append(CallEstimate(call_id=call.call_id, position=position, ewt_s=ewt_s, at=at))
        self._match(at, out)
        if call.state is CallState.WAITING:
            self._speak(call, at, out, (position, ewt_s), entry=True)
            if call.call_id in self._calls:
                self._arm(call)  # latched, announced, offered: its timer moves on
        return out

    def _old_place(self, e: CallQueued, out: list[Decision]) -> int | None:
        """Drop the caller's pending callbacks; the queue sequence the new call keeps, if any."""
        place: int | None = None
        pending = sorted(
            (c for c in map(self._calls.__getitem__, self._callback_calls)
             if c.caller == e.caller and c.state in (CallState.CALLBACK, CallState.MISSED)),
            key=lambda c: c.seq,
        )  # fmt: skip
        for old in pending:
            call_target(old, CALLED_AGAIN, self._policy, e.at)
            if old.state is CallState.CALLBACK and place is None:
                place = old.seq  # an accepted callback keeps its place
            self._drop(old)
            out.append(CallbackCancelled(call_id=old.call_id, reason="called_again", at=e.at))
        window = self._policy.rejoin_within_s
        abandon = self._abandons.get(e.caller)
        if abandon is not None and window is not None and e.at - abandon.at <= window:
            del self._abandons[e.caller]
            in_use = any(c.seq == abandon.seq for c in self._calls.values())
            if not in_use and (place is None or abandon.seq < place):
                place = abandon.seq
        return place

    def _caller_hung_up(self, e: CallerHungUp) -> list[Decision]:
        call = self._call(e.call_id)
        after = call_target(call, CallerHungUp, self._policy, e.at)
        if after is call.state:
            return []  # answered, or a callback: the caller's first channel going away
        out: list[Decision] = []
        waited = waited_since(e.at, call.queued_at)
        if call.state is CallState.OFFERED:
            assert call.agent_id is not None
            agent = self._agents[call.agent_id]
            state = agent_target(agent, CallerHungUp, self._policy, e.at)
            out.append(CancelOffer(call_id=call.call_id, agent_id=agent.agent_id))
            reason = self._leave_reason(agent, state, "caller_hung_up")
            self._move(agent, state, reason, e.at, out)
        self._remember_abandon(call, e.at)
        out.append(CallAbandoned(call_id=call.call_id, waited_s=waited, at=e.at))
        if after is CallState.MISSED:
            self._drop(call)  # a new place: on the missed-call list
            call.state, call.agent_id, call.missed, call.number = after, None, True, call.caller
            self._add(call)
            listing = MissedCallListed(
                call_id=call.call_id, number=call.number, waited_s=waited, at=e.at
            )
            out.append(listing)
        else:
            self._drop(call)
        self._match(e.at, out)
        return out

    def _need_changed(self, e: CallNeedChanged) -> list[Decision]:
        call = self._call(e.call_id)
        if not is_name(e.skill):
            raise AcdError(f"call {e.call_id!r}: skill {e.skill!r} is not a name")
        if isinstance(e.priority, bool) or not isinstance(e.priority, int):
            raise AcdError(f"call {e.call_id!r}: priority {e.priority!r} is not an int")
        state = call_target(call, CallNeedChanged, self._policy, e.at)
        assert state is call.state
        # Out and back in: the service order and the per-skill queue depend on both fields.
        self._drop(call)
        call.skill, call.priority = e.skill, e.priority
        self._add(call)
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    def _withdrawn(self, e: CallWithdrawn) -> list[Decision]:
        call = self._call(e.call_id)
        call_target(call, CallWithdrawn, self._policy, e.at)
        out: list[Decision] = []
        if call.state is CallState.OFFERED:
            assert call.agent_id is not None
            agent = self._agents[call.agent_id]
            state = agent_target(agent, CallWithdrawn, self._policy, e.at)
            out.append(CancelOffer(call_id=call.call_id, agent_id=agent.agent_id))
            self._move(agent, state, self._leave_reason(agent, state, "caller_left"), e.at, out)
        self._drop(call)
        waited = waited_since(e.at, call.queued_at)
        out.append(CallLeft(call_id=call.call_id, reason=e.reason, waited_s=waited, at=e.at))
        self._match(e.at, out)
        return out

    def _remember_abandon(self, call: Call, at: float) -> None:
        if self._policy.rejoin_within_s is None or not is_name(call.caller):
            return
        self._abandons.pop(call.caller, None)  # re-inserted last: the dict stays oldest first
        self._abandons[call.caller] = Abandon(call.call_id, call.seq, at)
        while len(self._abandons) > self._policy.rejoin_memory:
            del self._abandons[next(iter(self._abandons))]

    def _offer_failed(self, e: OfferFailed) -> list[Decision]:
        call, agent = self._ringing_pair(e.call_id, e.agent_id, OfferFailed)
        call_state = call_target(call, OfferFailed, self._policy, e.at)
        agent_state = agent_target(agent, OfferFailed, self._policy, e.at)
        assert call_state is not None  # calling: back to its place, no attempt used
        call.state, call.agent_id = call_state, None  # keeps its seq: first again in its band
        self._enqueue(call)
        if call.preferred_agent == agent.agent_id:
            call.sticky_over = True  # the preferred agent did not answer: no more waiting
        out: list[Decision] = []
        self._move(agent, agent_state, "ring_no_answer", e.at, out)
        self._match(e.at, out)
        return out

    def _answered(self, e: AgentAnswered) -> list[Decision]:
        call, agent = self._offered_pair(e.call_id, e.agent_id, AgentAnswered)
        call_state = call_target(call, AgentAnswered, self._policy, e.at)
        agent_state = agent_target(agent, AgentAnswered, self._policy, e.at)
        assert call_state is not None
        call.state = call_state
        out: list[Decision] = []
        self._move(agent, agent_state, "answered", e.at, out, call_id=call.call_id)
        out.append(
            CallAnswered(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                waited_s=waited_since(e.at, call.queued_at),
                at=e.at,
            )
        )
        return out

    def _ended(self, e: CallEnded) -> list[Decision]:
        call = self._call(e.call_id)
        if call.agent_id != e.agent_id:
            raise AcdError(
                f"call {e.call_id!r} is not with agent {e.agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        call_target(call, CallEnded, self._policy, e.at)
        agent = self._agent(e.agent_id)
        state = agent_target(agent, CallEnded, self._policy, e.at)
        reason = self._leave_reason(agent, state, "call_ended")
        # Learn the skill's handle time: the talk just ended plus the configured wrap-up.
        talk = max(0.0, e.at - agent.since)  # on_call since the answer
        mean, samples = self._handle.get(call.skill, (self._policy.handle_prior_s, 0))
        self._handle[call.skill] = ewt.running_mean(
            mean, samples, talk + self._policy.wrapup_s, self._policy.handle_window
        )
        self._drop(call)
        out: list[Decision] = []
        self._move(agent, state, reason, e.at, out)
        self._match(e.at, out)
        return out

    def _tick(self, e: Tick) -> list[Decision]:
        at, wrapup = e.at, self._policy.wrapup_s
        done = sorted(
            (a for a in self._wrapping.values() if at - a.since >= wrapup),
            key=lambda a: (a.since, a.agent_id),
        )  # fmt: skip
        out: list[Decision] = []
        for agent in done:
            state = agent_target(agent, Tick, self._policy, e.at)
            # Idle from when wrap-up really ended, not from the tick that noticed it, so the
            # agent who finished first is offered first whatever the tick interval.
            self._move(agent, state, "wrap_up_done", min(at, agent.since + wrapup), out)
        self._forget_abandons(at)
        changed = bool(done)
        due = self._due(at)  # the calls whose timers are due, or watched: no other can change
        timers = self._policy.has_route_timers
        retries = any(self._calls[c].retry_at is not None for c in self._callback_calls)
        if timers or retries:
            estimates: Estimates = {}
            if self._policy.thresholds_use_ewt and self._policy.has_level_timers:
                wanted = [c for c in due if self._level_ewt_wanted(c, at)]
                estimates = self._estimates_of(wanted, at)
            for call in due:
                if timers or call.call_id in self._callback_calls:
                    changed |= self._latch(call, at, estimates.get(call.call_id, (0, None))[1])
        if changed:
            self._match(at, out)
        if self._policy.has_prompts:
            self._speak_to_waiting(at, out, due)
        for call in due:
            if call.call_id in self._calls and call.state in QUEUED:
                self._arm(call)
        return out

    def _forget_abandons(self, at: float) -> None:
        window = self._policy.rejoin_within_s
        if window is None:
            self._abandons.clear()
            return
        for caller in [c for c, a in self._abandons.items() if at - a.at > window]:
            del self._abandons[caller]


Handler = Callable[[Acd, Any], list[Decision]]
# Event type -> handler: the whole set of events the ACD takes.
HANDLERS: dict[type[Event], Handler] = {
    AgentLoggedIn: Acd._logged_in,
    AgentLoggedOut: Acd._logged_out,
    AgentReady: Acd._ready,
    AgentNotReady: Acd._not_ready,
    AgentPhoneBusy: Acd._phone_busy,
    AgentPhoneFree: Acd._phone_free,
    CallQueued: Acd._queued,
    CallerHungUp: Acd._caller_hung_up,
    CallNeedChanged: Acd._need_changed,
    CallWithdrawn: Acd._withdrawn,
    OfferFailed: Acd._offer_failed,
    AgentAnswered: Acd._answered,
    CallEnded: Acd._ended,
    Tick: Acd._tick,
    CallbackAccepted: Acd._callback_accepted,
    CallbackConnected: Acd._callback_connected,
    CallbackFailed: Acd._callback_failed,
    CallbacksPaused: Acd._callbacks_paused,
    CallbacksResumed: Acd._callbacks_resumed,
}
