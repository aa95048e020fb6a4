"""The default IVR flow queues a call as the greeting starts and learns its need afterwards:
``CallNeedChanged`` keeps the call's place, ``CallWithdrawn`` lets it leave without counting
as an abandon."""

from __future__ import annotations

import pytest

from hotline.acd.core import Acd, AcdError, AcdPolicy, CallState
from hotline.acd.events import (
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallerHungUp,
    CallLeft,
    CallNeedChanged,
    CallQueued,
    CallWithdrawn,
    CancelOffer,
    MissedCallListed,
    OfferCall,
)
from tests.acd.test_acd_core import offers, queued, ready_agent


def test_a_refined_call_keeps_its_place_among_calls_of_its_new_skill() -> None:
    acd = Acd()
    acd.handle(queued("early", 1.0, skill="general"))
    acd.handle(queued("later", 2.0, skill="social"))
    acd.handle(CallNeedChanged(call_id="early", skill="social", priority=0, at=3.0))
    out = ready_agent(acd, "a1", 4.0, social=1)
    assert offers(out) == [("early", "a1")]  # queued first, so served first in "social"
    view = {v.call_id: v for v in acd.waiting_calls(4.0)}
    assert view["early"].skill == "social"
    assert view["early"].queued_at == 1.0  # its wait is still measured from queue entry


def test_a_refined_call_goes_to_an_agent_of_the_new_skill_at_once() -> None:
    acd = Acd()
    ready_agent(acd, "a1", 0.0, social=1)
    assert offers(acd.handle(queued("c1", 1.0, skill="general"))) == []
    out = acd.handle(CallNeedChanged(call_id="c1", skill="social", priority=0, at=2.0))
    assert offers(out) == [("c1", "a1")]


def test_priority_raised_by_the_ivr_moves_the_call_ahead() -> None:
    acd = Acd()
    acd.handle(queued("c1", 1.0))
    acd.handle(queued("c2", 2.0))
    acd.handle(CallNeedChanged(call_id="c2", skill="general", priority=5, at=3.0))
    assert offers(ready_agent(acd, "a1", 4.0)) == [("c2", "a1")]


def test_an_offer_ringing_stands_when_the_need_changes() -> None:
    acd = Acd()
    ready_agent(acd, "a1", 0.0)
    acd.handle(queued("c1", 1.0))
    out = acd.handle(CallNeedChanged(call_id="c1", skill="social", priority=0, at=2.0))
    assert out == []
    assert {v.call_id: v.state for v in acd.waiting_calls(2.0)} == {"c1": CallState.OFFERED}


def test_need_change_of_an_unknown_call_or_bad_skill_is_refused_and_changes_nothing() -> None:
    acd = Acd()
    acd.handle(queued("c1", 1.0))
    before = acd.snapshot()
    with pytest.raises(AcdError):
        acd.handle(CallNeedChanged(call_id="nope", skill="social", priority=0, at=2.0))
    with pytest.raises(AcdError):
        acd.handle(CallNeedChanged(call_id="c1", skill="", priority=0, at=2.0))
    with pytest.raises(AcdError):
        acd.handle(CallNeedChanged(call_id="c1", skill="x", priority="9", at=2.0))  # type: ignore[arg-type]
    assert acd.snapshot() == before


def test_a_withdrawn_call_is_not_an_abandon_and_is_not_called_back() -> None:
    acd = Acd(AcdPolicy(missed_callback_after_s=0.0, rejoin_within_s=600.0))
    acd.handle(queued("c1", 1.0))
    out = acd.handle(CallWithdrawn(call_id="c1", reason="emergency", at=30.0))
    assert out == [CallLeft(call_id="c1", reason="emergency", waited_s=29.0, at=30.0)]
    assert not any(isinstance(d, CallAbandoned | MissedCallListed) for d in out)
    assert acd.waiting_calls(30.0) == []
    # No old place to rejoin: the caller's next call is a new one at the back.
    acd.handle(queued("c0", 31.0))
    again = CallQueued(
        call_id="c2", skill="general", priority=0, caller="138c1", channel="x", at=32.0
    )
    acd.handle(again)
    assert [v.call_id for v in acd.waiting_calls(32.0)] == ["c0", "c2"]


def test_withdrawing_a_ringing_call_cancels_the_offer_and_frees_the_agent() -> None:
    acd = Acd()
    ready_agent(acd, "a1", 0.0)
    acd.handle(queued("c1", 1.0))
    acd.handle(queued("c2", 2.0))  # waits: a1 is ringing for c1
    out = acd.handle(CallWithdrawn(call_id="c1", reason="voicemail", at=3.0))
    assert CancelOffer(call_id="c1", agent_id="a1") in out
    assert (
        AgentStateChanged(agent_id="a1", state=AgentState.READY, reason="caller_left", at=3.0)
        in out
    )
    assert offers(out) == [("c2", "a1")]  # the freed agent takes the next call at once
    assert next(d for d in out if isinstance(d, OfferCall)).call_id == "c2"


def test_a_withdrawn_call_is_gone_later_hang_up_is_refused() -> None:
    acd = Acd()
    acd.handle(queued("c1", 1.0))
    acd.handle(CallWithdrawn(call_id="c1", reason="voicemail", at=2.0))
    with pytest.raises(AcdError):
        acd.handle(CallerHungUp(call_id="c1", at=3.0))
