"""The ACD core's rules, one by one: events in, decisions out, no I/O."""

from __future__ import annotations

import json
from dataclasses import asdict
from types import SimpleNamespace
from typing import Any

import pytest

from hotline.acd.core import (
    CENTRE_DEFAULTS,
    Acd,
    AcdError,
    AcdPolicy,
    AgentView,
    CallState,
    WaitingCallView,
)
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallQueued,
    CancelOffer,
    Decision,
    Event,
    OfferCall,
    OfferFailed,
    Tick,
)

S = AgentState


def login(agent_id: str, at: float = 0.0, **skills: int) -> AgentLoggedIn:
    pairs = tuple(sorted((skills or {"general": 1}).items()))
    return AgentLoggedIn(agent_id=agent_id, seat=f"PJSIP/{agent_id}", skills=pairs, at=at)


def queued(call_id: str, at: float, skill: str = "general", priority: int = 0) -> CallQueued:
    return CallQueued(
        call_id=call_id,
        skill=skill,
        priority=priority,
        caller=f"138{call_id}",
        channel=f"PJSIP/trunk-{call_id}",
        at=at,
    )


def ready_agent(acd: Acd, agent_id: str, at: float = 0.0, **skills: int) -> list[Decision]:
    acd.handle(login(agent_id, at, **skills))
    return acd.handle(AgentReady(agent_id=agent_id, at=at))


def offers(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions if isinstance(d, OfferCall)]


def state_of(acd: Acd, agent_id: str) -> AgentView:
    return next(a for a in acd.agents() if a.agent_id == agent_id)


def refused(acd: Acd, event: Any, match: str) -> None:
    """The event raises AcdError with a message naming the problem, and changes nothing."""
    before = acd.snapshot()
    with pytest.raises(AcdError, match=match):
        acd.handle(event)
    assert acd.snapshot() == before


@pytest.fixture
def acd() -> Acd:
    return Acd(AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0))


# --- policy, events, views --------------------------------------------------------------------


def test_policy_from_config_reads_the_acd_section() -> None:
    from hotline.base.settings import AcdConfig

    assert AcdPolicy.from_config(SimpleNamespace(ring_timeout_s=8, wrapup_s=1)) == AcdPolicy(8, 1)
    assert AcdPolicy.from_config(AcdConfig()) == AcdPolicy(**CENTRE_DEFAULTS)  # issue 17
    with pytest.raises(ValueError, match="ring_timeout_s"):
        AcdPolicy(ring_timeout_s=0)


def test_agent_state_prints_as_its_value() -> None:
    assert str(AgentState.READY) == "ready"
    assert [str(s) for s in AgentState] == [
        "logged_out", "ready", "not_ready", "ringing", "on_call", "wrap_up",
    ]  # fmt: skip


def test_views_serialise_to_json(acd: Acd) -> None:
    ready_agent(acd, "1001", general=3)
    acd.handle(queued("c1", 5.0))
    acd.handle(queued("c2", 6.0))
    payload = json.loads(json.dumps([asdict(v) for v in acd.waiting_calls() + acd.agents()]))
    assert payload[0]["state"] == "offered" and payload[0]["agent_id"] == "1001"
    assert payload[1]["state"] == "waiting" and payload[1]["agent_id"] is None
    assert payload[2] == {
        "agent_id": "1001",
        "seat": "PJSIP/1001",
        "skills": [["general", 3]],
        "state": "ringing",
        "reason": "offered",
        "since": 5.0,
        "call_id": "c1",
        "after_call": None,
    }


def test_not_an_event_or_bad_time_is_refused(acd: Acd) -> None:
    refused(acd, SimpleNamespace(at=1.0), "not an ACD event")
    refused(acd, Tick(at=float("nan")), "finite")
    refused(acd, login("1001", at=float("inf")), "finite")


# --- agents -----------------------------------------------------------------------------------


def test_login_is_not_ready_and_announced(acd: Acd) -> None:
    assert acd.handle(login("1001", 1.0)) == [
        AgentStateChanged(agent_id="1001", state=S.NOT_READY, reason="login", at=1.0)
    ]
    view = state_of(acd, "1001")
    assert (view.state, view.reason, view.since, view.call_id) == (S.NOT_READY, "login", 1.0, None)


def test_login_twice_is_refused(acd: Acd) -> None:
    acd.handle(login("1001"))
    refused(acd, login("1001", 2.0), "already logged in")


@pytest.mark.parametrize(
    "skills",
    [(("general", 0),), (("general", 11),), (("general", 1), ("general", 2)), (("", 1),)],
)
def test_bad_skills_are_refused(acd: Acd, skills: tuple[tuple[str, int], ...]) -> None:
    refused(acd, AgentLoggedIn(agent_id="1001", seat="s", skills=skills, at=0.0), "skill")


@pytest.mark.parametrize(
    "event",
    [
        AgentReady(agent_id="9", at=1.0),
        AgentNotReady(agent_id="9", reason="lunch", at=1.0),
        AgentLoggedOut(agent_id="9", at=1.0),
    ],
)
def test_unknown_agent_is_refused(acd: Acd, event: Event) -> None:
    acd.handle(login("1001"))
    refused(acd, event, "'9' is not logged in")


def test_ready_from_not_ready_and_from_wrap_up(acd: Acd) -> None:
    acd.handle(login("1001"))
    assert acd.handle(AgentReady(agent_id="1001", at=1.0)) == [
        AgentStateChanged(agent_id="1001", state=S.READY, reason="ready", at=1.0)
    ]
    refused(acd, AgentReady(agent_id="1001", at=2.0), "is ready: AgentReady is allowed only when")
    acd.handle(queued("c1", 3.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=4.0))
    acd.handle(CallEnded(call_id="c1", agent_id="1001", at=5.0))
    assert state_of(acd, "1001").state is S.WRAP_UP
    acd.handle(AgentReady(agent_id="1001", at=6.0))  # ends wrap-up early
    assert state_of(acd, "1001").state is S.READY


def test_not_ready_from_ready_wrap_up_and_not_ready(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(AgentNotReady(agent_id="1001", reason="lunch", at=1.0))
    assert (state_of(acd, "1001").state, state_of(acd, "1001").reason) == (S.NOT_READY, "lunch")
    # A new reason while not ready is a change too, and is announced.
    assert acd.handle(AgentNotReady(agent_id="1001", reason="training", at=2.0)) == [
        AgentStateChanged(agent_id="1001", state=S.NOT_READY, reason="training", at=2.0)
    ]
    acd.handle(AgentReady(agent_id="1001", at=3.0))
    acd.handle(queued("c1", 3.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=4.0))
    acd.handle(CallEnded(call_id="c1", agent_id="1001", at=5.0))
    acd.handle(AgentNotReady(agent_id="1001", reason="break", at=6.0))
    assert state_of(acd, "1001").state is S.NOT_READY


def test_logout_and_ready_are_refused_with_a_call(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))
    assert state_of(acd, "1001").state is S.RINGING
    refused(acd, AgentLoggedOut(agent_id="1001", at=2.0), "is ringing")
    refused(acd, AgentReady(agent_id="1001", at=2.0), "is ringing")
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=3.0))
    refused(acd, AgentLoggedOut(agent_id="1001", at=4.0), "is on_call")
    refused(acd, AgentReady(agent_id="1001", at=4.0), "is on_call")


@pytest.mark.parametrize("wrapup_s", [0.0, 30.0])
def test_not_ready_during_a_call_takes_effect_when_it_ends(wrapup_s: float) -> None:
    acd = Acd(AcdPolicy(wrapup_s=wrapup_s))
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=2.0))
    assert acd.handle(AgentNotReady(agent_id="1001", reason="lunch", at=3.0)) == []
    view = state_of(acd, "1001")
    assert (view.state, view.after_call) == (S.ON_CALL, "lunch")  # the call goes on
    acd.handle(queued("c2", 4.0))
    out = acd.handle(CallEnded(call_id="c1", agent_id="1001", at=5.0))
    assert offers(out) == []  # no next call, even without wrap-up
    view = state_of(acd, "1001")
    assert (view.state, view.reason, view.after_call) == (S.NOT_READY, "lunch", None)


def test_ready_during_the_call_withdraws_the_request(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))  # ringing
    acd.handle(AgentNotReady(agent_id="1001", reason="lunch", at=2.0))
    assert acd.handle(AgentReady(agent_id="1001", at=2.5)) == []
    assert state_of(acd, "1001").after_call is None
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=3.0))
    acd.handle(CallEnded(call_id="c1", agent_id="1001", at=4.0))
    assert state_of(acd, "1001").state is not S.NOT_READY


def test_an_offer_that_ends_unanswered_leaves_the_agent_not_ready_as_asked(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))  # ringing
    acd.handle(AgentNotReady(agent_id="1001", reason="meeting", at=2.0))
    acd.handle(CallerHungUp(call_id="c1", at=3.0))  # would have been ready again
    view = state_of(acd, "1001")
    assert (view.state, view.reason) == (S.NOT_READY, "meeting")
    again = Acd.restore(acd.snapshot())
    assert again.snapshot() == acd.snapshot()


def test_the_request_survives_a_snapshot(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))
    acd.handle(AgentNotReady(agent_id="1001", reason="lunch", at=2.0))
    again = Acd.restore(acd.snapshot())
    assert state_of(again, "1001").after_call == "lunch"
    again.handle(OfferFailed(call_id="c1", agent_id="1001", reason="rna", at=20.0))
    view = state_of(again, "1001")
    assert (view.state, view.reason, view.after_call) == (S.NOT_READY, "ring_no_answer", None)


@pytest.mark.parametrize("before", ["ready", "not_ready", "wrap_up"])
def test_logout(acd: Acd, before: str) -> None:
    ready_agent(acd, "1001")
    if before == "not_ready":
        acd.handle(AgentNotReady(agent_id="1001", reason="lunch", at=1.0))
    elif before == "wrap_up":
        acd.handle(queued("c1", 1.0))
        acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=1.0))
        acd.handle(CallEnded(call_id="c1", agent_id="1001", at=1.0))
    assert acd.handle(AgentLoggedOut(agent_id="1001", at=2.0)) == [
        AgentStateChanged(agent_id="1001", state=S.LOGGED_OUT, reason="logout", at=2.0)
    ]
    assert acd.agents() == []
    acd.handle(queued("c2", 3.0))  # a logged-out agent is never offered a call
    assert acd.waiting_calls()[0].state is CallState.WAITING


# --- queueing and matching ---------------------------------------------------------------------


def test_call_is_offered_to_a_ready_agent(acd: Acd) -> None:
    ready_agent(acd, "1001")
    assert acd.handle(queued("c1", 2.0)) == [
        # The estimate at queue entry comes first (acd/ewt.py): first in line, an agent free.
        CallEstimate(call_id="c1", position=1, ewt_s=0.0, at=2.0),
        OfferCall(
            call_id="c1",
            agent_id="1001",
            seat="PJSIP/1001",
            channel="PJSIP/trunk-c1",
            caller="138c1",
            ring_timeout_s=15.0,
        ),
        AgentStateChanged(agent_id="1001", state=S.RINGING, reason="offered", at=2.0),
    ]
    assert acd.waiting_calls() == [
        WaitingCallView(
            "c1", "general", 0, "138c1", "PJSIP/trunk-c1", 2.0, CallState.OFFERED, "1001"
        )
    ]


def test_call_queued_twice_is_refused(acd: Acd) -> None:
    acd.handle(queued("c1", 1.0))
    refused(acd, queued("c1", 2.0), "already in the ACD")


def test_waiting_calls_are_in_priority_then_fifo_order(acd: Acd) -> None:
    for call_id, at, priority in [("a", 1, 0), ("b", 2, 5), ("c", 3, 0), ("d", 4, 5), ("e", 5, 9)]:
        acd.handle(queued(call_id, at, priority=priority))
    assert [c.call_id for c in acd.waiting_calls()] == ["e", "b", "d", "a", "c"]
    served = []
    for n in range(5):
        decisions = ready_agent(acd, f"a{n}", at=10.0 + n)
        served += [call_id for call_id, _ in offers(decisions)]
    assert served == ["e", "b", "d", "a", "c"]


def test_ready_agent_gets_calls_in_service_order(acd: Acd) -> None:
    acd.handle(queued("low", 1.0, priority=0))
    acd.handle(queued("high", 2.0, priority=1))
    assert offers(ready_agent(acd, "1001", at=3.0)) == [("high", "1001")]


def test_call_without_a_skilled_agent_does_not_hold_up_others(acd: Acd) -> None:
    ready_agent(acd, "1001", general=1)
    acd.handle(queued("tax", 1.0, skill="tax", priority=9))
    assert offers(acd.handle(queued("gen", 2.0))) == [("gen", "1001")]
    assert [(c.call_id, c.state) for c in acd.waiting_calls()] == [
        ("tax", CallState.WAITING),
        ("gen", CallState.OFFERED),
    ]


def test_best_level_then_longest_idle_then_agent_id(acd: Acd) -> None:
    # Level 1 is the best; 3 is a weaker level of the same skill.
    ready_agent(acd, "b", at=1.0, general=1)
    ready_agent(acd, "a", at=2.0, general=1)
    ready_agent(acd, "c", at=0.0, general=3)  # idle longest, but a weaker level
    ready_agent(acd, "z", at=1.0, general=1)  # ties with "b" on level and idle time
    calls = [f"c{n}" for n in range(4)]
    got = [offers(acd.handle(queued(call_id, 10.0 + n)))[0] for n, call_id in enumerate(calls)]
    assert got == [("c0", "b"), ("c1", "z"), ("c2", "a"), ("c3", "c")]


def test_idle_time_restarts_when_the_agent_becomes_ready_again(acd: Acd) -> None:
    policy = AcdPolicy(wrapup_s=0)
    acd = Acd(policy)
    ready_agent(acd, "a", at=0.0)
    ready_agent(acd, "b", at=1.0)
    acd.handle(queued("c1", 2.0))  # to "a", idle longest
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=3.0))
    acd.handle(CallEnded(call_id="c1", agent_id="a", at=4.0))  # "a" ready again, idle since 4
    assert offers(acd.handle(queued("c2", 5.0))) == [("c2", "b")]


def test_an_agent_never_gets_two_calls(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))
    assert offers(acd.handle(queued("c2", 2.0))) == []
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=3.0))
    assert offers(acd.handle(queued("c3", 4.0))) == []
    assert [(c.call_id, c.agent_id) for c in acd.waiting_calls()] == [("c2", None), ("c3", None)]


# --- ring-no-answer ----------------------------------------------------------------------------


def test_ring_no_answer_makes_the_agent_not_ready_and_offers_the_call_again(acd: Acd) -> None:
    ready_agent(acd, "a", at=0.0)
    ready_agent(acd, "b", at=1.0)
    acd.handle(queued("c1", 2.0))
    decisions = acd.handle(OfferFailed(call_id="c1", agent_id="a", reason="no answer", at=17.0))
    assert decisions == [
        AgentStateChanged(agent_id="a", state=S.NOT_READY, reason="ring_no_answer", at=17.0),
        OfferCall(
            call_id="c1",
            agent_id="b",
            seat="PJSIP/b",
            channel="PJSIP/trunk-c1",
            caller="138c1",
            ring_timeout_s=15.0,
        ),
        AgentStateChanged(agent_id="b", state=S.RINGING, reason="offered", at=17.0),
    ]


def test_ring_no_answer_puts_the_call_back_at_the_head_of_its_band(acd: Acd) -> None:
    ready_agent(acd, "a", at=0.0)
    acd.handle(queued("first", 1.0))
    acd.handle(queued("second", 2.0))
    acd.handle(queued("urgent", 3.0, priority=1))
    acd.handle(OfferFailed(call_id="first", agent_id="a", reason="no answer", at=16.0))
    assert [(c.call_id, c.state) for c in acd.waiting_calls()] == [
        ("urgent", CallState.WAITING),
        ("first", CallState.WAITING),
        ("second", CallState.WAITING),
    ]
    assert offers(ready_agent(acd, "b", at=20.0)) == [("urgent", "b")]
    assert offers(acd.handle(AgentReady(agent_id="a", at=21.0))) == [("first", "a")]
    assert acd.waiting_calls()[1].queued_at == 1.0  # its wait still counts from the start


def test_offer_failed_for_another_agent_or_call_is_refused(acd: Acd) -> None:
    ready_agent(acd, "a")
    ready_agent(acd, "b")
    acd.handle(queued("c1", 1.0))
    refused(acd, OfferFailed(call_id="c1", agent_id="b", reason="x", at=2.0), "not ringing")
    refused(acd, OfferFailed(call_id="nope", agent_id="a", reason="x", at=2.0), "not in the ACD")
    acd.handle(queued("c2", 1.0))  # to "b"
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=3.0))
    refused(acd, OfferFailed(call_id="c1", agent_id="a", reason="x", at=4.0), "not ringing")


# --- answer, end, wrap-up ---------------------------------------------------------------------


def test_answer_puts_the_agent_on_the_call(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 10.0))
    assert acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=14.5)) == [
        AgentStateChanged(agent_id="1001", state=S.ON_CALL, reason="answered", at=14.5),
        CallAnswered(call_id="c1", agent_id="1001", waited_s=4.5, at=14.5),
    ]
    assert state_of(acd, "1001").call_id == "c1"
    assert acd.waiting_calls() == []  # answered calls are not waiting


def test_answer_from_an_agent_not_ringing_for_the_call_is_refused(acd: Acd) -> None:
    ready_agent(acd, "a")
    ready_agent(acd, "b")
    acd.handle(queued("c1", 1.0))  # rings "a"
    refused(acd, AgentAnswered(call_id="c1", agent_id="b", at=2.0), "not ringing agent 'b'")
    refused(acd, AgentAnswered(call_id="c9", agent_id="a", at=2.0), "not in the ACD")
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=2.0))
    refused(acd, AgentAnswered(call_id="c1", agent_id="a", at=3.0), "not ringing")


def test_call_end_starts_wrap_up_and_tick_ends_it(acd: Acd) -> None:
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=2.0))
    acd.handle(queued("c2", 3.0))  # waits: the only agent is busy
    assert acd.handle(CallEnded(call_id="c1", agent_id="1001", at=100.0)) == [
        AgentStateChanged(agent_id="1001", state=S.WRAP_UP, reason="call_ended", at=100.0)
    ]
    assert acd.handle(Tick(at=109.9)) == []
    decisions = acd.handle(Tick(at=110.4))
    assert decisions[0] == AgentStateChanged(
        agent_id="1001", state=S.READY, reason="wrap_up_done", at=110.0
    )
    assert offers(decisions) == [("c2", "1001")]


def test_no_wrap_up_makes_the_agent_ready_at_once() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0))
    ready_agent(acd, "1001")
    acd.handle(queued("c1", 1.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="1001", at=2.0))
    acd.handle(queued("c2", 3.0))
    decisions = acd.handle(CallEnded(call_id="c1", agent_id="1001", at=4.0))
    assert decisions[0] == AgentStateChanged(
        agent_id="1001", state=S.READY, reason="call_ended", at=4.0
    )
    assert offers(decisions) == [("c2", "1001")]


def test_wrap_up_ends_in_the_order_agents_finished(acd: Acd) -> None:
    for agent_id, at in [("b", 1.0), ("a", 2.0)]:
        ready_agent(acd, agent_id, at=at)
        acd.handle(queued(f"call-{agent_id}", at))
        acd.handle(AgentAnswered(call_id=f"call-{agent_id}", agent_id=agent_id, at=at))
    acd.handle(CallEnded(call_id="call-a", agent_id="a", at=5.0))
    acd.handle(CallEnded(call_id="call-b", agent_id="b", at=6.0))
    acd.handle(queued("next", 7.0))
    # Both wrap-ups are over at this tick; "a" finished first, so "a" is idle longer.
    assert offers(acd.handle(Tick(at=30.0))) == [("next", "a")]


def test_call_end_from_the_wrong_agent_or_before_answer_is_refused(acd: Acd) -> None:
    ready_agent(acd, "a")
    ready_agent(acd, "b")
    acd.handle(queued("c1", 1.0))  # rings "a"
    refused(acd, CallEnded(call_id="c1", agent_id="a", at=2.0), "offered: CallEnded")
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=2.0))
    refused(acd, CallEnded(call_id="c1", agent_id="b", at=3.0), "not with agent 'b'")
    refused(acd, CallEnded(call_id="zz", agent_id="a", at=3.0), "not in the ACD")


# --- caller hangs up --------------------------------------------------------------------------


def test_caller_hangs_up_while_waiting(acd: Acd) -> None:
    acd.handle(queued("c1", 1.0))
    assert acd.handle(CallerHungUp(call_id="c1", at=31.0)) == [
        CallAbandoned(call_id="c1", waited_s=30.0, at=31.0)
    ]
    assert acd.waiting_calls() == []


def test_caller_hangs_up_while_ringing_cancels_the_offer(acd: Acd) -> None:
    ready_agent(acd, "a", at=0.0)
    acd.handle(queued("c1", 1.0))
    acd.handle(queued("c2", 2.0))
    decisions = acd.handle(CallerHungUp(call_id="c1", at=5.0))
    assert decisions[:3] == [
        CancelOffer(call_id="c1", agent_id="a"),
        AgentStateChanged(agent_id="a", state=S.READY, reason="caller_hung_up", at=5.0),
        CallAbandoned(call_id="c1", waited_s=4.0, at=5.0),
    ]
    assert offers(decisions) == [("c2", "a")]  # the freed agent takes the next caller


def test_caller_hang_up_of_an_answered_call_is_ignored(acd: Acd) -> None:
    ready_agent(acd, "a")
    acd.handle(queued("c1", 1.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=2.0))
    before = acd.snapshot()
    assert acd.handle(CallerHungUp(call_id="c1", at=3.0)) == []
    assert acd.snapshot() == before
    acd.handle(CallEnded(call_id="c1", agent_id="a", at=3.1))  # the call ends this way
    assert state_of(acd, "a").state is S.WRAP_UP


def test_caller_hang_up_of_an_unknown_call_is_refused(acd: Acd) -> None:
    refused(acd, CallerHungUp(call_id="ghost", at=1.0), "'ghost' is not in the ACD")


# --- snapshot and restore ---------------------------------------------------------------------


def _busy_centre() -> tuple[Acd, list[Event]]:
    """An ACD mid-flow (waiting, ringing, on-call, wrap-up) and the events that follow."""
    acd = Acd(AcdPolicy(ring_timeout_s=9.0, wrapup_s=5.0))
    ready_agent(acd, "a", at=0.0, general=1, tax=1)
    ready_agent(acd, "b", at=1.0, general=2)
    acd.handle(login("c", 1.5, tax=7))
    acd.handle(queued("c1", 2.0))
    acd.handle(queued("c2", 3.0, skill="tax"))
    acd.handle(queued("c3", 4.0, priority=2))
    acd.handle(queued("c4", 5.0))
    acd.handle(AgentAnswered(call_id="c1", agent_id="a", at=6.0))
    acd.handle(OfferFailed(call_id="c3", agent_id="b", reason="no answer", at=13.0))
    acd.handle(CallEnded(call_id="c1", agent_id="a", at=14.0))
    later: list[Event] = [
        AgentReady(agent_id="c", at=15.0),
        AgentReady(agent_id="b", at=16.0),
        Tick(at=19.5),
        AgentAnswered(call_id="c3", agent_id="a", at=20.0),
        CallerHungUp(call_id="c4", at=21.0),
        queued("c5", 22.0, priority=2),
        CallEnded(call_id="c3", agent_id="a", at=23.0),
        Tick(at=40.0),
    ]
    return acd, later


def _replay(acd: Acd, events: list[Event]) -> list[Any]:
    results: list[Any] = []
    for event in events:
        try:
            results.append(acd.handle(event))
        except AcdError as exc:
            results.append(str(exc))
        results.append((acd.snapshot(), acd.waiting_calls(), acd.agents()))
    return results


def test_snapshot_is_json_and_restores_exactly() -> None:
    acd, _ = _busy_centre()
    snap = acd.snapshot()
    wire = json.loads(json.dumps(snap))
    again = Acd.restore(wire, acd.policy)
    assert again.snapshot() == snap
    assert again.waiting_calls() == acd.waiting_calls()
    assert again.agents() == acd.agents()
    assert again.policy == acd.policy


def test_restored_acd_decides_exactly_as_the_original() -> None:
    acd, later = _busy_centre()
    restored = Acd.restore(json.loads(json.dumps(acd.snapshot())), acd.policy)
    expected = _replay(acd, later)
    assert _replay(restored, later) == expected
    assert any(isinstance(r, list) and offers(r) for r in expected)  # the replay did something


def test_restore_keeps_the_sequence_counter() -> None:
    acd = Acd()
    for n in range(3):
        acd.handle(queued(f"c{n}", float(n)))
    acd.handle(CallerHungUp(call_id="c0", at=5.0))
    restored = Acd.restore(acd.snapshot(), acd.policy)
    restored.handle(queued("late", 6.0))
    assert [c.call_id for c in restored.waiting_calls()] == ["c1", "c2", "late"]
    assert restored.snapshot()["next_seq"] == 4


ORPHAN_OFFER = {
    "version": 1,
    "next_seq": 1,
    "agents": [],
    "calls": [
        {"call_id": "c", "skill": "g", "priority": 0, "caller": "", "channel": "",
         "queued_at": 0.0, "seq": 0, "state": "offered", "agent_id": "ghost"},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    "corrupt",
    [
        {},
        {"version": 99},
        {"version": 1, "next_seq": 0},
        {"version": 1, "next_seq": 0, "agents": [{"agent_id": "a"}], "calls": []},
        ORPHAN_OFFER,
    ],
)
def test_restore_refuses_what_is_not_a_snapshot(corrupt: dict[str, Any]) -> None:
    with pytest.raises(AcdError):
        Acd.restore(corrupt, AcdPolicy())
