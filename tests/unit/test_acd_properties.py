"""Random event sequences, valid and not: the ACD's invariants hold after every event."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.core import Acd, AcdError, AcdPolicy
from acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    CallEnded,
    CallerHungUp,
    CallQueued,
    Decision,
    Event,
    OfferCall,
    OfferFailed,
    Tick,
)

AGENTS = ("a", "b", "c")
CALLS = ("c0", "c1", "c2", "c3", "c4")
SKILLS = ("general", "tax")
KINDS = (
    "login", "logout", "ready", "not_ready", "queue", "hang_up", "fail", "answer", "end", "tick",
)  # fmt: skip


def draw_event(data: st.DataObject, acd: Acd, at: float) -> Event:
    """One event, most of them fitting the current state so deep states are reached."""
    snap = acd.snapshot()
    by_state: dict[str, list[tuple[str, str]]] = {"offered": [], "answered": []}
    for c in snap["calls"]:
        if c["agent_id"] is not None:
            by_state[c["state"]].append((c["call_id"], c["agent_id"]))
    fitting = data.draw(st.integers(0, 7)) > 0  # 1 in 8 is drawn at random

    def pick_pair(state: str) -> tuple[str, str]:
        pool = by_state[state]
        if fitting and pool:
            return data.draw(st.sampled_from(pool))
        return data.draw(st.sampled_from(CALLS)), data.draw(st.sampled_from(AGENTS))

    def pick_agent(*states: str) -> str:
        present: list[str] = [a["agent_id"] for a in snap["agents"] if a["state"] in states]
        # Logging in (no states given): an agent not logged in fits.
        pool = present if states else sorted(set(AGENTS) - {a.agent_id for a in acd.agents()})
        return data.draw(st.sampled_from(pool if fitting and pool else AGENTS))

    call_id = data.draw(st.sampled_from(CALLS))
    match data.draw(st.sampled_from(KINDS)):
        case "login":
            agent_id = pick_agent()
            skills = data.draw(
                st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), min_size=1)
            )
            return AgentLoggedIn(
                agent_id=agent_id,
                seat=f"PJSIP/{agent_id}",
                skills=tuple(sorted(skills.items())),
                at=at,
            )
        case "logout":
            return AgentLoggedOut(agent_id=pick_agent("ready", "not_ready", "wrap_up"), at=at)
        case "ready":
            return AgentReady(agent_id=pick_agent("not_ready", "wrap_up"), at=at)
        case "not_ready":
            agent_id = pick_agent("ready", "not_ready", "wrap_up")
            return AgentNotReady(agent_id=agent_id, reason="break", at=at)
        case "queue":
            return CallQueued(
                call_id=call_id,
                skill=data.draw(st.sampled_from(SKILLS)),
                priority=data.draw(st.integers(0, 2)),
                caller="13800000000",
                channel=f"PJSIP/trunk-{call_id}",
                at=at,
            )
        case "hang_up":
            return CallerHungUp(call_id=call_id, at=at)
        case "fail":
            call_id, agent_id = pick_pair("offered")
            return OfferFailed(call_id=call_id, agent_id=agent_id, reason="rna", at=at)
        case "answer":
            call_id, agent_id = pick_pair("offered")
            return AgentAnswered(call_id=call_id, agent_id=agent_id, at=at)
        case "end":
            call_id, agent_id = pick_pair("answered")
            return CallEnded(call_id=call_id, agent_id=agent_id, at=at)
    return Tick(at=at)


def next_time(data: st.DataObject, at: float) -> float:
    # Time mostly moves on, sometimes a little back: events come from more than one clock.
    return at + data.draw(st.integers(-1, 12))


policies = st.builds(
    AcdPolicy, ring_timeout_s=st.sampled_from([5.0, 15.0]), wrapup_s=st.sampled_from([0.0, 5.0])
)


def check_invariants(acd: Acd) -> None:
    snap = acd.snapshot()
    agents = {a["agent_id"]: a for a in snap["agents"]}
    calls = {c["call_id"]: c for c in snap["calls"]}

    # No agent ever has two calls.
    holders = Counter(c["agent_id"] for c in calls.values() if c["agent_id"] is not None)
    assert all(n == 1 for n in holders.values()), holders

    # Ringing <-> offered, on_call <-> answered, both sides pointing at each other.
    pairs = {"ringing": "offered", "on_call": "answered"}
    for agent in agents.values():
        if agent["state"] in pairs:
            call = calls[agent["call_id"]]
            assert call["state"] == pairs[agent["state"]]
            assert call["agent_id"] == agent["agent_id"]
        else:
            assert agent["call_id"] is None
            assert agent["state"] in ("ready", "not_ready", "wrap_up")
    for call in calls.values():
        if call["state"] == "waiting":
            assert call["agent_id"] is None
        else:
            agent = agents[call["agent_id"]]
            assert agent["call_id"] == call["call_id"]
            assert pairs[agent["state"]] == call["state"]

    # Matching leaves no waiting call that a ready agent could take.
    ready_skills = {
        name for a in agents.values() if a["state"] == "ready" for name, _level in a["skills"]
    }
    for call in calls.values():
        assert not (call["state"] == "waiting" and call["skill"] in ready_skills), call

    # The waiting list is in service order and holds every unanswered call.
    waiting = acd.waiting_calls()
    assert [(-c.priority, calls[c.call_id]["seq"]) for c in waiting] == sorted(
        (-c["priority"], c["seq"]) for c in calls.values() if c["state"] != "answered"
    )
    assert {a.agent_id for a in acd.agents()} == set(agents)


def check_decisions(decisions: list[Decision]) -> None:
    offered = [d.agent_id for d in decisions if isinstance(d, OfferCall)]
    assert len(offered) == len(set(offered)), "one event offered an agent two calls"


@settings(max_examples=300, deadline=None)
@given(policy=policies, steps=st.integers(1, 60), data=st.data())
def test_invariants_hold_after_every_event(
    policy: AcdPolicy, steps: int, data: st.DataObject
) -> None:
    acd, at = Acd(policy), 0.0
    for _ in range(steps):
        at = next_time(data, at)
        event = draw_event(data, acd, at)
        before = acd.snapshot()
        try:
            decisions = acd.handle(event)
        except AcdError:
            assert acd.snapshot() == before, f"{event!r} was refused but changed the state"
        else:
            check_decisions(decisions)
        check_invariants(acd)


def _step(acd: Acd, event: Event) -> list[Decision] | str:
    try:
        return acd.handle(event)
    except AcdError as exc:
        return str(exc)


@settings(max_examples=150, deadline=None)
@given(policy=policies, steps=st.integers(0, 40), after=st.integers(1, 20), data=st.data())
def test_restore_anywhere_continues_identically(
    policy: AcdPolicy, steps: int, after: int, data: st.DataObject
) -> None:
    acd, at = Acd(policy), 0.0
    for _ in range(steps):
        at = next_time(data, at)
        _step(acd, draw_event(data, acd, at))
    snap = acd.snapshot()
    restored = Acd.restore(json.loads(json.dumps(snap)), policy)
    assert restored.snapshot() == snap
    for _ in range(after):
        at = next_time(data, at)
        event = draw_event(data, acd, at)
        assert _step(restored, event) == _step(acd, event)
        assert restored.snapshot() == acd.snapshot()
