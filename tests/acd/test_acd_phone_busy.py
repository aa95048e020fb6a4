"""An agent's phone on a call the ACD did not place (a transfer to the seat, a call the agent
dialled) takes the agent out of routing until the phone is free: never a second call."""

from __future__ import annotations

from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.events import (
    AgentAnswered,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentReady,
    AgentState,
    CallEnded,
    Tick,
)
from tests.acd.test_acd_core import offers, queued, ready_agent, refused, state_of


def test_a_ready_agent_on_another_call_is_not_offered_a_call() -> None:
    acd = Acd(AcdPolicy(wrapup_s=5.0))
    ready_agent(acd, "a1", 0.0)
    acd.handle(AgentPhoneBusy(agent_id="a1", at=1.0))
    view = state_of(acd, "a1")
    assert (view.state, view.reason) == (AgentState.NOT_READY, "other_call")
    assert offers(acd.handle(queued("c1", 2.0))) == []


def test_when_the_phone_is_free_the_agent_wraps_up_then_takes_the_waiting_call() -> None:
    acd = Acd(AcdPolicy(wrapup_s=5.0))
    ready_agent(acd, "a1", 0.0)
    acd.handle(AgentPhoneBusy(agent_id="a1", at=1.0))
    acd.handle(queued("c1", 2.0))
    assert offers(acd.handle(AgentPhoneFree(agent_id="a1", at=10.0))) == []
    assert state_of(acd, "a1").state is AgentState.WRAP_UP
    assert offers(acd.handle(Tick(at=15.0))) == [("c1", "a1")]


def test_without_wrap_up_the_agent_is_ready_at_once() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0))
    ready_agent(acd, "a1", 0.0)
    acd.handle(queued("c1", 1.0))  # offered at once
    acd.handle(AgentAnswered(call_id="c1", agent_id="a1", at=2.0))
    acd.handle(CallEnded(call_id="c1", agent_id="a1", at=3.0))
    acd.handle(AgentPhoneBusy(agent_id="a1", at=4.0))
    acd.handle(queued("c2", 5.0))
    assert offers(acd.handle(AgentPhoneFree(agent_id="a1", at=6.0))) == [("c2", "a1")]


def test_ready_is_refused_while_the_phone_is_busy() -> None:
    acd = Acd()
    ready_agent(acd, "a1", 0.0)
    acd.handle(AgentNotReady(agent_id="a1", reason="break", at=1.0))
    acd.handle(AgentPhoneBusy(agent_id="a1", at=2.0))
    assert state_of(acd, "a1").reason == "break"  # a chosen reason stays
    refused(acd, AgentReady(agent_id="a1", at=3.0), "on another call")
    acd.handle(AgentPhoneFree(agent_id="a1", at=4.0))
    assert state_of(acd, "a1").state is AgentState.NOT_READY  # still on break
    acd.handle(AgentReady(agent_id="a1", at=5.0))
    assert state_of(acd, "a1").state is AgentState.READY


def test_the_acd_own_call_does_not_count_as_another_call() -> None:
    acd = Acd(AcdPolicy(wrapup_s=0.0))
    ready_agent(acd, "a1", 0.0)
    acd.handle(queued("c1", 1.0))
    assert acd.handle(AgentPhoneBusy(agent_id="a1", at=1.1)) == []  # the offer rings
    acd.handle(AgentAnswered(call_id="c1", agent_id="a1", at=2.0))
    acd.handle(CallEnded(call_id="c1", agent_id="a1", at=3.0))
    assert acd.handle(AgentPhoneFree(agent_id="a1", at=3.1)) == []
    assert state_of(acd, "a1").state is AgentState.READY
    assert offers(acd.handle(queued("c2", 5.0))) == [("c2", "a1")]


def test_the_busy_phone_survives_a_snapshot() -> None:
    acd = Acd()
    ready_agent(acd, "a1", 0.0)
    acd.handle(AgentNotReady(agent_id="a1", reason="break", at=1.0))
    acd.handle(AgentPhoneBusy(agent_id="a1", at=2.0))
    again = Acd.restore(acd.snapshot())
    assert again.snapshot() == acd.snapshot()
    refused(again, AgentReady(agent_id="a1", at=3.0), "on another call")
