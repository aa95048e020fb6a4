"""Handlers of callbacks (accepted and missed-call): accepted, connected, failed, paused and
resumed; and the lookups of a call with the agent it rings.
"""

from __future__ import annotations

from hotline.acd.core.agent_handlers import AgentHandlers
from hotline.acd.core.policy import AcdError
from hotline.acd.core.records import Agent, Call, CallState, is_name
from hotline.acd.core.rules import Trigger, agent_target, call_target, states_allowing, trigger_name
from hotline.acd.events import (
    CallbackAccepted,
    CallbackConnected,
    CallbackFailed,
    CallbackGaveUp,
    CallbacksPaused,
    CallbacksResumed,
    Decision,
)


class CallbackHandlers(AgentHandlers):
    def _callback_accepted(self, e: CallbackAccepted) -> list[Decision]:
        call = self._call(e.call_id)
        state = call_target(call, CallbackAccepted, self._policy, e.at)
        if not is_name(e.number):
            raise AcdError(f"call {e.call_id!r}: callback number {e.number!r} is not a string")
        assert state is not None
        call.state, call.number = state, e.number
        self._callback_calls.add(call.call_id)
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    def _callback_connected(self, e: CallbackConnected) -> list[Decision]:
        call, agent = self._ringing_pair(e.call_id, e.agent_id, CallbackConnected)
        call_state = call_target(call, CallbackConnected, self._policy, e.at)
        agent_state = agent_target(agent, CallbackConnected, self._policy, e.at)
        assert call_state is not None
        call.state = call_state
        self._callback_calls.discard(call.call_id)
        out: list[Decision] = []
        self._move(agent, agent_state, "callback_connected", e.at, out, call_id=call.call_id)
        return out

    def _callback_failed(self, e: CallbackFailed) -> list[Decision]:
        call, agent = self._ringing_pair(e.call_id, e.agent_id, CallbackFailed)
        call_state = call_target(call, CallbackFailed, self._policy, e.at)
        agent_state = agent_target(agent, CallbackFailed, self._policy, e.at)
        out: list[Decision] = []
        reason = self._leave_reason(agent, agent_state, "callback_failed")
        self._move(agent, agent_state, reason, e.at, out)
        call.attempts += 1
        if call_state is None:  # that was the last attempt
            self._drop(call)
            out.append(CallbackGaveUp(call_id=call.call_id, attempts=call.attempts, at=e.at))
        else:
            call.state, call.agent_id = call_state, None
            retry_s = self._policy.callback_retry_s
            call.retry_at = e.at + retry_s if retry_s > 0 else None
            self._enqueue(call)
        self._match(e.at, out)
        return out

    def _callbacks_paused(self, e: CallbacksPaused) -> list[Decision]:
        if self._paused:
            raise AcdError("callbacks are already paused")
        self._paused = True
        return []

    def _callbacks_resumed(self, e: CallbacksResumed) -> list[Decision]:
        if not self._paused:
            raise AcdError("callbacks are not paused")
        self._paused = False
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    def _offered_pair(self, call_id: str, agent_id: str, trigger: Trigger) -> tuple[Call, Agent]:
        call = self._call(call_id)
        if call.state is not CallState.OFFERED or call.agent_id != agent_id:
            raise AcdError(
                f"{trigger_name(trigger)}: call {call_id!r} is not ringing agent {agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        return call, self._agent(agent_id)

    def _ringing_pair(self, call_id: str, agent_id: str, trigger: Trigger) -> tuple[Call, Agent]:
        """The call and the agent it rings: offered, or a callback being placed."""
        call = self._call(call_id)
        if call.state not in states_allowing(trigger) or call.agent_id != agent_id:
            raise AcdError(
                f"{trigger_name(trigger)}: call {call_id!r} is not ringing agent {agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        return call, self._agent(agent_id)
