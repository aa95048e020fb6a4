"""The views the adapter serves (frozen copies, never the records) and ``can_take``."""

from __future__ import annotations

from hotline.acd.core.prompts import Prompter
from hotline.acd.core.records import AgentView, CallState, WaitingCallView, agent_view
from hotline.acd.core.rules import keeps_idle_reserve


class Views(Prompter):
    def waiting_calls(self, at: float | None = None) -> list[WaitingCallView]:
        """Calls not yet answered (waiting, ringing an agent, callbacks, missed calls), in
        service order, with their position and EWT as of ``at`` (default: the latest time the state
        knows of, the last queue entry or agent state change; the adapter passes its clock).
        """
        estimates = self._estimates(self._latest() if at is None else at)
        return [
            WaitingCallView(
                c.call_id, c.skill, c.priority, c.caller, c.channel, c.queued_at, c.state,
                c.agent_id, *estimates.get(c.call_id, (0, 0.0)),
            )
            for c in self._in_service_order()
            if c.state is not CallState.ANSWERED
        ]  # fmt: skip

    def agents(self) -> list[AgentView]:
        """Logged-in agents, by agent_id."""
        return [agent_view(a) for a in sorted(self._agents.values(), key=lambda a: a.agent_id)]

    def agent(self, agent_id: str) -> AgentView | None:
        """One logged-in agent (None if not logged in); no copy of the others."""
        found = self._agents.get(agent_id)
        return None if found is None else agent_view(found)

    def agent_at(self, seat: str) -> AgentView | None:
        """The agent logged in at this seat (a dial string), if any."""
        found = next((a for a in self._agents.values() if a.seat == seat), None)
        return None if found is None else agent_view(found)

    def _latest(self) -> float:
        """The latest time the state knows of: what the views are for when not told."""
        times = [a.since for a in self._agents.values()]
        times += [c.queued_at for c in self._calls.values()]
        return max(times, default=0.0)

    def can_take(self, call_id: str, agent_id: str, at: float | None = None) -> bool:
        """Whether the rules let this agent be given this call now, were the agent ready."""
        call, agent = self._calls.get(call_id), self._agents.get(agent_id)
        if call is None or agent is None:
            return False
        when = self._latest() if at is None else at
        if not (self._placeable(call, when) and self._selector(call, when)(agent) is not None):
            return False
        if call.state is CallState.WAITING:
            return True
        # A callback keeps the idle reserve of its skill (counting this agent as ready).
        ready = sum(call.skill in a.names for a in self._ready_agents.values())
        ready += agent.agent_id not in self._ready_agents and call.skill in agent.names
        working = self._all.staffed.get(call.skill, 0)
        return keeps_idle_reserve(call, self._policy, ready, working)
