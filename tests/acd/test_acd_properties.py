"""Random event sequences, valid and not: the ACD's invariants hold after every event.

The sequences include the callback events and calls with a preferred agent and repeat callers,
under random policies (thresholds, overflow, sticky routing, rejoin, missed-call list), and
check that no call is offered to an agent who is not ready (busy or logged out), that no agent
ever has two calls, and that no call is lost: every call that leaves the ACD leaves with a
decision that says how (answered and ended, abandoned, voicemail, callback given up or
replaced by a new call).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hotline.acd.core import CALL_EXTRAS, Acd, AcdError, AcdPolicy, CallState
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallbackAccepted,
    CallbackCancelled,
    CallbackConnected,
    CallbackFailed,
    CallbackGaveUp,
    CallbacksPaused,
    CallbacksResumed,
    CallEnded,
    CallerHungUp,
    CallLeft,
    CallNeedChanged,
    CallQueued,
    CallWithdrawn,
    Decision,
    Event,
    MissedCallListed,
    OfferCall,
    OfferFailed,
    PlaceCallback,
    SendToVoicemail,
    Tick,
)

AGENTS = ("a", "b", "c")
CALLS = ("c0", "c1", "c2", "c3", "c4")
SKILLS = ("general", "tax")
CALLERS = ("A", "B", "", "13800000000")
KINDS = (
    "login", "logout", "ready", "not_ready", "queue", "hang_up", "fail", "answer", "end", "tick",
    "tick", "accept", "connected", "callback_failed", "pause", "resume", "refine", "withdraw",
    "phone_busy", "phone_free",
)  # fmt: skip
CALLBACK_STATES = ("callback", "missed", "calling")


# Strategies built once: building them on every draw costs more than the ACD itself.
FIT = st.integers(0, 7)
CALL = st.sampled_from(CALLS)
AGENT = st.sampled_from(AGENTS)
KIND = st.sampled_from(KINDS)
SKILL = st.sampled_from(SKILLS)
SKILL_SET = st.sampled_from((("general",), ("tax",), ("general", "tax")))
LEVEL = st.integers(1, 10)
PRIORITY = st.integers(0, 2)
CALLER = st.sampled_from(CALLERS)
PREFERRED = st.sampled_from((None, None, "a", "b", "z"))
NUMBER = st.sampled_from(("139", "139", ""))
INDEX = [st.integers(0, n - 1) for n in range(1, 2 * len(CALLS) + 2)]


def draw_event(data: st.DataObject, acd: Acd, at: float) -> Event:
    """One event, most of them fitting the current state so deep states are reached."""
    snap = acd.snapshot()
    by_state: dict[str, list[tuple[str, str]]] = {"offered": [], "answered": [], "calling": []}
    waiting: list[str] = []
    for c in snap["calls"]:
        if c["agent_id"] is not None:
            by_state[c["state"]].append((c["call_id"], c["agent_id"]))
        elif c["state"] == "waiting":
            waiting.append(c["call_id"])
    fitting = data.draw(FIT) > 0  # 1 in 8 is drawn at random

    def pick(pool: list[Any]) -> Any:
        return pool[data.draw(INDEX[len(pool) - 1])]

    def pick_pair(*states: str) -> tuple[str, str]:
        pool = [pair for state in states for pair in by_state[state]]
        if fitting and pool:
            return pick(pool)  # type: ignore[no-any-return]
        return data.draw(CALL), data.draw(AGENT)

    def pick_agent(*states: str) -> str:
        present: list[str] = [a["agent_id"] for a in snap["agents"] if a["state"] in states]
        # Logging in (no states given): an agent not logged in fits.
        pool = present if states else sorted(set(AGENTS) - {a.agent_id for a in acd.agents()})
        return str(pick(pool)) if fitting and pool else data.draw(AGENT)

    call_id = data.draw(CALL)
    match data.draw(KIND):
        case "login":
            agent_id = pick_agent()
            skills = tuple((name, data.draw(LEVEL)) for name in data.draw(SKILL_SET))
            return AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}", skills=skills, at=at)
        case "logout":
            return AgentLoggedOut(agent_id=pick_agent("ready", "not_ready", "wrap_up"), at=at)
        case "ready":  # on a call: withdraws "not ready after this call"
            agent_id = pick_agent("not_ready", "wrap_up", "ringing", "on_call")
            return AgentReady(agent_id=agent_id, at=at)
        case "not_ready":  # on a call: not ready after it
            agent_id = pick_agent("ready", "not_ready", "wrap_up", "ringing", "on_call")
            return AgentNotReady(agent_id=agent_id, reason="break", at=at)
        case "queue":
            return CallQueued(
                call_id=call_id,
                skill=data.draw(SKILL),
                priority=data.draw(PRIORITY),
                caller=data.draw(CALLER),
                channel=f"PJSIP/trunk-{call_id}",
                at=at,
                preferred_agent=data.draw(PREFERRED),
            )
        case "hang_up":
            return CallerHungUp(call_id=call_id, at=at)
        case "fail":
            call_id, agent_id = pick_pair("offered", "calling")
            return OfferFailed(call_id=call_id, agent_id=agent_id, reason="rna", at=at)
        case "answer":
            call_id, agent_id = pick_pair("offered")
            return AgentAnswered(call_id=call_id, agent_id=agent_id, at=at)
        case "end":
            call_id, agent_id = pick_pair("answered")
            return CallEnded(call_id=call_id, agent_id=agent_id, at=at)
        case "accept":
            if fitting and waiting:
                call_id = pick(waiting)
            return CallbackAccepted(call_id=call_id, number=data.draw(NUMBER), at=at)
        case "connected":
            call_id, agent_id = pick_pair("calling")
            return CallbackConnected(call_id=call_id, agent_id=agent_id, at=at)
        case "callback_failed":
            call_id, agent_id = pick_pair("calling")
            return CallbackFailed(call_id=call_id, agent_id=agent_id, reason="busy", at=at)
        case "refine":
            if fitting and waiting:
                call_id = pick(waiting)
            skill, priority = data.draw(SKILL), data.draw(PRIORITY)
            return CallNeedChanged(call_id=call_id, skill=skill, priority=priority, at=at)
        case "withdraw":
            if fitting and (waiting or by_state["offered"]):
                call_id = pick(waiting + [c for c, _ in by_state["offered"]])
            return CallWithdrawn(call_id=call_id, reason="emergency", at=at)
        case "phone_busy":
            return AgentPhoneBusy(agent_id=pick_agent("ready", "wrap_up", "not_ready"), at=at)
        case "phone_free":
            return AgentPhoneFree(agent_id=pick_agent("not_ready", "ready", "wrap_up"), at=at)
        case "pause":
            return CallbacksPaused(at=at)
        case "resume":
            return CallbacksResumed(at=at)
    return Tick(at=at)


STEP = st.integers(-1, 12)


def next_time(data: st.DataObject, at: float) -> float:
    # Time mostly moves on, sometimes a little back: events come from more than one clock.
    return at + data.draw(STEP)


first_policies = st.builds(
    AcdPolicy, ring_timeout_s=st.sampled_from([5.0, 15.0]), wrapup_s=st.sampled_from([0.0, 5.0])
)
policy_rules = st.builds(
    AcdPolicy,
    ring_timeout_s=st.sampled_from([5.0, 15.0]),
    wrapup_s=st.sampled_from([0.0, 5.0]),
    handle_prior_s=st.sampled_from([30.0, 180.0]),
    thresholds_use_ewt=st.booleans(),
    initial_max_level=st.sampled_from([10, 3]),
    widen_after_s=st.sampled_from([None, 0.0, 20.0]),
    overflow_after_s=st.sampled_from([None, 30.0]),
    overflow=st.sampled_from([{}, {"tax": ("general",)}, {"general": ("tax",)}]),
    offer_callback_after_s=st.sampled_from([None, 15.0]),
    voicemail_after_s=st.sampled_from([None, 25.0]),
    announce_every_s=st.sampled_from([0.0, 10.0]),
    sticky_wait_s=st.sampled_from([0.0, 20.0]),
    missed_callback_after_s=st.sampled_from([None, 0.0, 5.0]),
    missed_callback_priority=st.sampled_from([None, 1]),
    callback_max_attempts=st.sampled_from([1, 2]),
    callback_retry_s=st.sampled_from([0.0, 10.0]),
    rejoin_within_s=st.sampled_from([None, 30.0]),
    rejoin_memory=st.sampled_from([1, 100]),
    per_skill=st.sampled_from([{}, {"tax": {"initial_max_level": 10, "widen_after_s": None}}]),
    keep_first_skill=st.booleans(),
    borrow_spare_first=st.booleans(),
    target_first=st.booleans(),
    first_skill_max_wait_s=st.sampled_from([None, 10.0]),
    service_target_s=st.sampled_from([0.0, 15.0]),
    callback_min_idle_agents=st.sampled_from([0, 1]),
    callback_min_idle_share=st.sampled_from([0.0, 0.5]),
    callback_reserve_live=st.booleans(),
)
policies = st.one_of(first_policies, policy_rules)

# Events after which the ACD has matched calls and agents as of the event's time.
MATCHING = (AgentReady, CallQueued, CallerHungUp, OfferFailed, CallEnded, Tick, CallbackAccepted,
            CallbackFailed, CallbacksResumed, CallNeedChanged, CallWithdrawn)  # fmt: skip


def check_invariants(acd: Acd, matched_at: float) -> None:
    snap = acd.snapshot()
    agents = {a["agent_id"]: a for a in snap["agents"]}
    # The snapshot writes only the call state that differs from a new call's.
    calls = {c["call_id"]: {**CALL_EXTRAS, **c} for c in snap["calls"]}

    # No agent ever has two calls.
    holders = Counter(c["agent_id"] for c in calls.values() if c["agent_id"] is not None)
    assert all(n == 1 for n in holders.values()), holders

    # An agent whose phone is on another call is never ready (so never offered a call); a
    # "not ready after this call" request exists only during a call.
    for agent in agents.values():
        if agent.get("phone_busy"):
            assert agent["state"] == "not_ready", agent
        if "after_call" in agent:
            assert agent["state"] in ("ringing", "on_call"), agent

    # Ringing <-> offered or calling, on_call <-> answered, both pointing at each other.
    pairs = {"ringing": ("offered", "calling"), "on_call": ("answered",)}
    for agent in agents.values():
        if agent["state"] in pairs:
            call = calls[agent["call_id"]]
            assert call["state"] in pairs[agent["state"]]
            assert call["agent_id"] == agent["agent_id"]
        else:
            assert agent["call_id"] is None
            assert agent["state"] in ("ready", "not_ready", "wrap_up")
    for call in calls.values():
        if call["state"] in ("waiting", "callback", "missed"):
            assert call["agent_id"] is None
        else:
            agent = agents[call["agent_id"]]
            assert agent["call_id"] == call["call_id"]
            assert call["state"] in pairs[agent["state"]]
        assert (call["state"] in CALLBACK_STATES) <= bool(call["number"])
        assert call["attempts"] < acd.policy.callback_max_attempts

    # Matching leaves no call in the queue that a ready agent may take (eligibility only
    # grows with time, so checking as of the last matching is enough).
    for call in calls.values():
        for agent in agents.values():
            if agent["state"] == "ready":
                can = acd.can_take(call["call_id"], agent["agent_id"], at=matched_at)
                assert not can, (call, agent)

    # The waiting list is in service order (the missed-call list last unless it has a
    # priority) and holds every call not answered.
    def key(c: dict[str, Any]) -> tuple[int, int, int]:
        if c["missed"]:
            prio = acd.policy.missed_callback_priority
            return (1, -c["priority"], c["seq"]) if prio is None else (0, -prio, c["seq"])
        return (0, -c["priority"], c["seq"])

    waiting = acd.waiting_calls()
    assert [v.call_id for v in waiting] == [
        c["call_id"] for c in sorted(calls.values(), key=key) if c["state"] != "answered"
    ]
    assert {a.agent_id for a in acd.agents()} == set(agents)

    # The estimate of one call (queue entry) and of the whole queue (views) agree.
    at = matched_at
    estimates = acd._estimates(at)
    for v in waiting:
        if v.state in (CallState.WAITING, CallState.CALLBACK, CallState.MISSED):
            assert acd._estimate_new(acd._calls[v.call_id], at) == estimates[v.call_id]
            assert v.position >= 1 and (v.ewt_s is None or v.ewt_s >= 0)

    # The derived staffing figures match the agents.
    working = [a for a in agents.values() if a["state"] not in ("not_ready", "logged_out")]
    staffed = Counter(name for a in working for name, _ in a["skills"])
    assert acd._all.staffed == staffed
    assert set(acd._ready_agents) == {a["agent_id"] for a in working if a["state"] == "ready"}
    assert acd._callback_calls == {c for c, v in calls.items() if v["state"] in CALLBACK_STATES}


LEAVING = (CallAbandoned, SendToVoicemail, CallbackGaveUp, CallbackCancelled, CallLeft)


def check_decisions(
    event: Event, before: dict[str, Any], after: dict[str, Any], decisions: list[Decision]
) -> None:
    """Offers go to ready agents only, one each; every call that left says how."""
    state = {a["agent_id"]: a["state"] for a in before["agents"]}
    offered: list[str] = []
    for d in decisions:
        if isinstance(d, AgentStateChanged):
            state[d.agent_id] = str(d.state)
        elif isinstance(d, OfferCall | PlaceCallback):
            assert state.get(d.agent_id) == str(AgentState.READY), (d, state.get(d.agent_id))
            offered.append(d.agent_id)
    assert len(offered) == len(set(offered)), "one event offered an agent two calls"

    was = {c["call_id"]: c["state"] for c in before["calls"]}
    now = {c["call_id"]: c["state"] for c in after["calls"]}
    left = {d.call_id for d in decisions if isinstance(d, LEAVING)}
    listed = {d.call_id for d in decisions if isinstance(d, MissedCallListed)}
    left -= listed  # abandoned, but kept on the missed-call list
    if isinstance(event, CallEnded):
        assert was.get(event.call_id) == "answered"
        left.add(event.call_id)
    if isinstance(event, CallQueued) and event.call_id not in was:
        was[event.call_id] = "new"
    for call_id in was.keys() - now.keys():
        assert call_id in left, f"{call_id} ({was[call_id]}) left the ACD without a word"
    for call_id in left:
        assert call_id in was and call_id not in now, call_id
    # Listed: on the list, or already being called back by an agent who just became free.
    assert listed <= {c for c, s in now.items() if s in ("missed", "calling")}


def run(acd: Acd, event: Event, matched_at: float) -> tuple[list[Decision] | None, float]:
    before = acd.snapshot()
    try:
        decisions = acd.handle(event)
    except AcdError:
        assert acd.snapshot() == before, f"{event!r} was refused but changed the state"
        return None, matched_at
    check_decisions(event, before, acd.snapshot(), decisions)
    sticky_logout = isinstance(event, AgentLoggedOut) and acd.policy.has_sticky
    # A phone that comes free matches only when it frees the agent (else nothing changed).
    freed = isinstance(event, AgentPhoneFree) and any(
        isinstance(d, AgentStateChanged) for d in decisions
    )
    # An event the core takes but that changes nothing (a callback's caller hanging up) does
    # not match; a Tick always does (eligibility grows with time).
    changed = isinstance(event, Tick) or acd.snapshot() != before
    if (isinstance(event, MATCHING) and changed) or sticky_logout or freed:
        matched_at = event.at
    return decisions, matched_at


class Script:
    """The events of a counterexample hypothesis once found, given through ``@example`` in
    place of drawn ones, so it is run every time whatever the example database holds."""

    def __init__(self, *events: Event) -> None:
        self.events = events


# A callback's caller hanging up is taken but changes nothing, so nothing is matched: the
# test once counted it as a matching and then found the call preferring agent b, whose sticky
# wait had run out by then, still waiting with agent a ready.
CALLBACK_CALLER_HANGS_UP = Script(
    AgentLoggedIn(agent_id="a", seat="PJSIP/a", skills=(("general", 1),), at=0.0),
    AgentReady(agent_id="a", at=0.0),
    AgentLoggedIn(agent_id="b", seat="PJSIP/b", skills=(("general", 1),), at=0.0),
    CallQueued(call_id="c0", skill="general", priority=0, caller="A", channel="PJSIP/trunk-c0",
               at=1.0, preferred_agent="b"),
    CallQueued(call_id="c1", skill="tax", priority=0, caller="B", channel="PJSIP/trunk-c1",
               at=2.0),
    CallbackAccepted(call_id="c1", number="139", at=3.0),
    CallerHungUp(call_id="c1", at=25.0),
)  # fmt: skip


@example(
    policy=AcdPolicy(sticky_wait_s=20.0),
    steps=len(CALLBACK_CALLER_HANGS_UP.events),
    data=CALLBACK_CALLER_HANGS_UP,
)
@settings(max_examples=300, deadline=None)
@given(policy=policies, steps=st.integers(1, 60), data=st.data())
def test_invariants_hold_after_every_event(
    policy: AcdPolicy, steps: int, data: st.DataObject | Script
) -> None:
    acd, at, matched_at = Acd(policy), 0.0, 0.0
    for step in range(steps):
        if isinstance(data, Script):
            event = data.events[step]
        else:
            at = next_time(data, at)
            event = draw_event(data, acd, at)
        _decisions, matched_at = run(acd, event, matched_at)
        check_invariants(acd, matched_at)


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
    assert restored.waiting_calls(at) == acd.waiting_calls(at)
    for _ in range(after):
        at = next_time(data, at)
        event = draw_event(data, acd, at)
        assert _step(restored, event) == _step(acd, event)
        assert restored.snapshot() == acd.snapshot()
