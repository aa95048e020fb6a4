"""Routing: who gets which call. Matching runs after every change that can free an agent or
make a call eligible.

Calls are taken in service order and each goes to the ready agent it may take with, in order:
the preferred agent (alone during its sticky wait); its own skill (best level, lowest number)
before overflow skills (in the order listed); longest idle; lowest agent_id. A call that no
ready agent may take does not hold up later calls.

The first-skill rule (issue 17): an agent passes a call over, within its priority, for a later
one of a skill it has at a better level, or (past the service target) for one at the same
level still within it (``rules.passes_over``). Why: the rule before it gave a freed agent the
oldest call it may take whatever its level there, so a specialist freed at a peak answered
the general queue (which has many other agents) while its own subject's callers, whom few
others can take, waited; app_queue's penalties keep specialists on their first skill. A pass
that leaves an agent ready while a call it may take waits is followed by a pass without the
rule, so the rule never idles an agent. With ``target_first`` (issue 17), a call already past
the service target is left, at any level, for a later one of another skill the agent has that
can still make it (a specialist's first skill no longer keeps it on lost calls while young
general calls pass 15 s). With ``borrow_spare_first`` (issue 17,
``rules.borrow_cost``), a call goes to the agents whose only first skill is its own before agents
lent from another first skill (a dual specialist is lent from its other subject), and of those
to the one whose first skill keeps the most ready agents (the level breaks ties): a small team
with the general skill at level 2 no longer answers the general overflow before a large team
at level 3 while its own subject waits.
Callbacks also keep the idle reserve
(``rules.keeps_idle_reserve``; with ``callback_reserve_live`` never more than the centre's live
calls ringing or answered, ``_live_load``). A live call is offered (``OfferCall``); a
callback or missed call is placed (``PlaceCallback``), unless callbacks are paused or its retry
time has not come.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable

from hotline.acd.core.estimates import Estimator
from hotline.acd.core.policy import MAX_LEVEL
from hotline.acd.core.records import BUSY, Agent, Call, CallState, Rank, by_key
from hotline.acd.core.rules import (
    OFFER,
    PLACE,
    agent_target,
    borrow_cost,
    call_target,
    keeps_idle_reserve,
    passes_over,
)
from hotline.acd.events import Decision, OfferCall, PlaceCallback

LIVE_REASONS = frozenset({"offered", "answered"})  # an agent's reason while on a live call


class Router(Estimator):
    def _selector(
        self, call: Call, at: float, ready: Counter[str] | None = None
    ) -> Callable[[Agent], Rank | None]:
        """The rank of an agent for this call now (lower is better), None if it may not take
        it: preferred agent, own skill before overflow skills, (with ``borrow_spare_first``
        and ``ready``, the ready agents by skill: agents of the call's first skill before
        lent ones, these by ``rules.borrow_cost``), best level, longest idle, id."""
        rules = self._policy.rules(call.skill)
        pref = call.preferred_agent
        waited = at - call.queued_at
        sticky = not call.sticky_over and waited < rules.sticky_wait_s
        if pref is not None and sticky and pref in self._agents:

            def only_preferred(agent: Agent) -> Rank | None:
                if agent.agent_id != pref:
                    return None
                return (-1, 0, 0, agent.idle_since, agent.agent_id)

            return only_preferred
        widened, overflowed = self._stage(call, at)
        max_level = MAX_LEVEL if widened else rules.initial_max_level
        groups = self._policy.overflow.get(call.skill, ()) if overflowed else ()
        skill = call.skill
        spares = ready if self._policy.borrow_spare_first else None

        def rank(agent: Agent) -> Rank | None:
            tier, name, level = 0, skill, agent.level(skill)
            if not 0 < level <= max_level:
                tier, name, level = next(
                    ((n, g, lvl) for n, g in enumerate(groups, 1) if (lvl := agent.level(g))),
                    (0, skill, 0),
                )
                if not tier:
                    return None
            if agent.agent_id == pref:
                tier = -1
            lent = borrow_cost(agent, name, level, spares) if spares is not None else 0
            return (tier, lent, level, agent.idle_since, agent.agent_id)

        return rank

    def _placeable(self, call: Call, at: float) -> bool:
        """The call is in the queue and may be given an agent now."""
        if call.state is CallState.WAITING:
            return True
        if call.state in (CallState.CALLBACK, CallState.MISSED):
            return not self._paused and (call.retry_at is None or at >= call.retry_at)
        return False

    def _match(self, at: float, out: list[Decision]) -> None:
        if self._match_pass(at, out, keep_first=self._policy.keep_first_skill):
            self._match_pass(at, out, keep_first=False)

    def _match_pass(self, at: float, out: list[Decision], *, keep_first: bool) -> bool:
        """One pass over the queue; True if an agent passed a call over for one of a better
        skill and is still ready (a second pass without that rule then gives it work)."""
        if not self._ready_agents:
            return False
        ready = list(self._ready_agents.values())
        passed = False
        # A cheap test first: could any ready agent take the call at all? (Its skill, one of
        # its overflow skills or its preferred agent among the ready.) Most calls of a long
        # queue fail it, and are not ranked against every ready agent.
        skills = Counter(name for agent in ready for name in agent.names)
        restricted = self._core is not self._all
        core = Counter(n for a in ready for n in self._core_names(a)) if restricted else skills
        overflow = self._policy.overflow
        live: int | None = None
        for call in self._queue_order():
            if not ready:
                return False
            if call.state is not CallState.WAITING:
                if not self._placeable(call, at):
                    continue
                if live is None and self._policy.callback_reserve_live:
                    live = self._live_load()
                working = self._all.staffed.get(call.skill, 0)
                if not keeps_idle_reserve(call, self._policy, skills[call.skill], working, live):
                    continue
            own = core if restricted and not self._stage(call, at)[0] else skills
            if (
                not own.get(call.skill)
                and call.preferred_agent not in self._ready_agents
                and not any(skills.get(group) for group in overflow.get(call.skill, ()))
            ):
                continue
            rank = self._selector(call, at, skills)
            best: Agent | None = None
            best_rank: Rank | None = None
            for agent in ready:
                r = rank(agent)
                if r is None or (best_rank is not None and r >= best_rank):
                    continue
                if keep_first and r[0] >= 0 and self._better_call_waits(agent, call, at):
                    passed = True
                    continue
                best, best_rank = agent, r
            if best is None:
                continue
            ready.remove(best)
            skills.subtract(best.names)
            if restricted:
                core.subtract(self._core_names(best))
            if call.state is CallState.WAITING:
                self._offer(call, best, at, out)
            else:
                self._place(call, best, at, out)
        return passed and bool(ready)

    def _live_load(self) -> int:
        """Live calls ringing an agent or answered, in the whole centre (not callbacks being
        placed or connected): the load the callbacks' idle reserve protects."""
        return sum(
            1
            for agent in self._agents.values()
            if agent.state in BUSY and agent.reason in LIVE_REASONS
        )

    def _better_call_waits(self, agent: Agent, call: Call, at: float) -> bool:
        """The agent should leave this call for a later one of the same priority, of another
        skill it has (``rules.passes_over``): the next such call of each of its skills."""
        level = agent.level(call.skill) or MAX_LEVEL + 1  # an overflow skill: after any own
        band = call.key[:2]
        any_level = self._policy.target_first
        for name, other in agent.skills:
            if (other > level and not any_level) or name == call.skill:
                continue
            keys = self._queued_keys.get(name)
            if not keys:
                continue
            i = bisect.bisect_right(keys, call.key)
            if i == len(keys) or keys[i][:2] != band:
                continue
            later = self._queue[bisect.bisect_left(self._queue, keys[i], key=by_key)]
            if passes_over(call, self._policy, at, level, other, later.queued_at):
                return True
        return False

    def _offer(self, call: Call, agent: Agent, at: float, out: list[Decision]) -> None:
        call_state = call_target(call, OFFER, self._policy, at)
        agent_state = agent_target(agent, OFFER, self._policy, at)
        assert call_state is not None
        self._dequeue(call)
        call.state, call.agent_id = call_state, agent.agent_id
        out.append(
            OfferCall(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                seat=agent.seat,
                channel=call.channel,
                caller=call.caller,
                ring_timeout_s=self._policy.ring_timeout_s,
            )
        )
        self._move(agent, agent_state, "offered", at, out, call_id=call.call_id)

    def _place(self, call: Call, agent: Agent, at: float, out: list[Decision]) -> None:
        call_state = call_target(call, PLACE, self._policy, at)
        agent_state = agent_target(agent, PLACE, self._policy, at)
        assert call_state is not None
        self._dequeue(call)
        call.state, call.agent_id = call_state, agent.agent_id
        out.append(
            PlaceCallback(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                seat=agent.seat,
                number=call.number,
                attempt=call.attempts + 1,
                ring_timeout_s=self._policy.ring_timeout_s,
                at=at,
            )
        )
        self._move(agent, agent_state, "callback", at, out, call_id=call.call_id)
