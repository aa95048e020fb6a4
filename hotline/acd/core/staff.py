"""Agent moves and the staffing indexes they keep: the ready set, the agents in wrap-up, and the
per-skill pools the estimates read (all of every working agent's skills, and the "core" skills
a call may go to before it is widened).
"""

from __future__ import annotations

from hotline.acd.core.queues import Queues
from hotline.acd.core.records import BUSY, WORKING, Agent
from hotline.acd.events import AgentState, AgentStateChanged, Decision


class Staff(Queues):
    # -- changes that cannot fail --------------------------------------------------------------
    def _move(
        self,
        agent: Agent,
        state: AgentState,
        reason: str,
        at: float,
        out: list[Decision],
        *,
        call_id: str | None = None,
    ) -> None:
        """Set the agent's state (the table's target: never changed here) and its indexes."""
        if agent.state in BUSY and state not in BUSY:
            agent.after_call = None  # the call is over: so is what was asked for after it
        self._index(agent, add=False)
        agent.state, agent.reason, agent.since, agent.call_id = state, reason, at, call_id
        if state is AgentState.READY:
            agent.idle_since = at
        agent.free_at = self._expected_free_at(agent)
        self._index(agent, add=True)
        out.append(AgentStateChanged(agent_id=agent.agent_id, state=state, reason=reason, at=at))

    def _expected_free_at(self, agent: Agent) -> float:
        """When an agent who just changed state is expected to be free to take a call."""
        match agent.state:
            case AgentState.WRAP_UP:
                return agent.since + self._policy.wrapup_s
            case AgentState.RINGING | AgentState.ON_CALL:
                call = self._calls.get(agent.call_id or "")
                return agent.since + self.mean_handle_s(call.skill if call is not None else "")
        return agent.since

    def _index(self, agent: Agent, *, add: bool) -> None:
        """Add a working agent to (or take it out of) the staffing pools and the ready set."""
        if agent.state not in WORKING:
            return
        if agent.state is AgentState.READY:
            if add:
                self._ready_agents[agent.agent_id] = agent
            else:
                del self._ready_agents[agent.agent_id]
        elif agent.state is AgentState.WRAP_UP:
            if add:
                self._wrapping[agent.agent_id] = agent
            else:
                del self._wrapping[agent.agent_id]
        self._all.update(agent, agent.names, add=add)
        if self._core is not self._all:
            self._core.update(agent, self._core_names(agent), add=add)

    def _core_names(self, agent: Agent) -> tuple[str, ...]:
        """The agent's skills at a level that calls not yet widened may go to."""
        if self._core is self._all:
            return agent.names
        return tuple(
            name for name, level in agent.skills
            if level <= self._policy.rules(name).initial_max_level
        )  # fmt: skip
