"""Handlers of the agents' own events: log in and out, ready, not ready, the phone busy or
free with a call the ACD did not place. Targets come from ``AGENT_TRANSITIONS`` (rules.py).
"""

from __future__ import annotations

from hotline.acd.core.policy import AcdError
from hotline.acd.core.records import BUSY, Agent, check_skills, is_name
from hotline.acd.core.rules import OTHER_CALL, agent_target
from hotline.acd.core.snapshot import Persistence
from hotline.acd.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentReady,
    AgentState,
    Decision,
)


class AgentHandlers(Persistence):
    def _leave_reason(self, agent: Agent, state: AgentState, reason: str) -> str:
        """The reason of a move out of a call: the one the agent gave if it asked for "not
        ready after this call" (the table's ``asked_not_ready`` branch took it to not_ready)."""
        if state is AgentState.NOT_READY and agent.after_call is not None:
            return agent.after_call
        return reason

    def _logged_in(self, e: AgentLoggedIn) -> list[Decision]:
        if not is_name(e.agent_id):
            raise AcdError(f"agent id {e.agent_id!r} is not a non-empty string")
        if e.agent_id in self._agents:
            current = self._agents[e.agent_id].state
            raise AcdError(f"agent {e.agent_id!r} is already logged in ({current})")
        check_skills(e.agent_id, e.skills)
        agent = Agent(e.agent_id, e.seat, tuple(e.skills), AgentState.LOGGED_OUT, "", e.at, e.at)
        state = agent_target(agent, AgentLoggedIn, self._policy, e.at)
        agent.names = tuple(name for name, _ in agent.skills)
        self._agents[e.agent_id] = agent
        out: list[Decision] = []
        self._move(agent, state, "login", e.at, out)
        return out

    def _logged_out(self, e: AgentLoggedOut) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = agent_target(agent, AgentLoggedOut, self._policy, e.at)
        out: list[Decision] = []
        self._move(agent, state, "logout", e.at, out)
        del self._agents[e.agent_id]
        if self._policy.has_sticky:  # calls waiting for this agent go to others now
            for call in self._calls.values():
                if call.preferred_agent == agent.agent_id:
                    call.sticky_over = True
            self._match(e.at, out)
        return out

    def _ready(self, e: AgentReady) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = agent_target(agent, AgentReady, self._policy, e.at)
        if agent.phone_busy:
            raise AcdError(f"agent {e.agent_id!r} is on another call: ready when it ends")
        out: list[Decision] = []
        if state in BUSY:
            if agent.after_call is None:
                raise AcdError(f"agent {e.agent_id!r} is {agent.state}: ready after the call")
            agent.after_call = None  # the agent changed their mind: wrap-up, then ready
        else:
            self._move(agent, state, "ready", e.at, out)
        self._match(e.at, out)  # after any AgentReady the queue is matched as of now
        return out

    def _not_ready(self, e: AgentNotReady) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = agent_target(agent, AgentNotReady, self._policy, e.at)
        if state in BUSY:
            agent.after_call = e.reason  # the call goes on: the table applies it when it ends
            return []
        out: list[Decision] = []
        self._move(agent, state, e.reason, e.at, out)
        return out  # an agent leaving ready frees nothing: no matching

    def _phone_busy(self, e: AgentPhoneBusy) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = agent_target(agent, AgentPhoneBusy, self._policy, e.at)
        out: list[Decision] = []
        if state in BUSY:
            return out  # the ACD's own call: the phone is busy with it
        agent.phone_busy = True
        if state is not agent.state:
            self._move(agent, state, OTHER_CALL, e.at, out)
        return out  # an agent leaving ready frees nothing: no matching

    def _phone_free(self, e: AgentPhoneFree) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = agent_target(agent, AgentPhoneFree, self._policy, e.at)
        agent.phone_busy = False
        out: list[Decision] = []
        if state is not agent.state:  # freed from the other call: as after any call
            self._move(agent, state, "call_ended", e.at, out)
            self._match(e.at, out)
        return out
