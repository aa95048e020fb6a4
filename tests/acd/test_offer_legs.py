"""An offer as the engine follows it since issue 15: the caller's own channel dials the agent.

The service sends the caller to [hotline-ring-agent] (Setvar, then Redirect) and the dialplan's
events say the rest: HotlineAgentRinging names the agent's channel, HotlineAgentAnswered or
HotlineOfferFailed end the offer. Real core, service and consumer; Asterisk is a recorder of
the actions (the live tests, tests/acd/test_answer_race.py and the rest, run the real one).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.acd.events import AgentReady, AgentState
from hotline.acd.service import MOVE_ATTEMPTS, MOVE_RETRY_S
from hotline.asterisk.ami.client import AmiActionError
from hotline.asterisk.ami.events import (
    AgentLegAnswered,
    AgentLegRinging,
    CallArrived,
    CallLeftQueue,
    CallQueuedInAsterisk,
    ChannelCreated,
    ChannelHungUp,
    IvrExited,
    IvrListening,
    OfferNotAnswered,
)
from tests.acd.test_acd_core import login, state_of
from tests.app.test_bad_input import _Bus, _Msg, _Store

CALL = "1796654304.5"
CALLER_CHANNEL = "PJSIP/trunk-00000001"
LINKED = "1796654304.4"
AGENT_CHANNEL = "PJSIP/1001-00000002"
AGENT_UID = "1796654310.7"


class _Asterisk:
    """Records actions; a Redirect of a channel in `gone` is refused as Asterisk refuses one
    of a channel that is hanging up."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone: set[str] = set()
        self.refuse = "Redirect failed, channel not up."

    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any:
        self.sent.append(action)
        if action["Action"] == "Redirect" and action["Channel"] in self.gone:
            raise AmiActionError(f"Redirect: {self.refuse}")
        if action["Action"] == "CoreShowChannels":
            return []
        return _Msg({"Response": "Success"})

    def actions(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.sent if a["Action"] == name]


def _setup() -> tuple[Any, Any, _Asterisk]:
    from hotline.acd.consumer import AmiConsumer
    from hotline.acd.core import Acd
    from hotline.acd.notifier import AcdNotifier
    from hotline.acd.service import AcdService
    from hotline.calls.tracker import CallTracker

    asterisk = _Asterisk()
    tracker = CallTracker()
    notifier = AcdNotifier(_Bus())  # type: ignore[arg-type]
    service = AcdService(
        Acd(),
        asterisk,  # type: ignore[arg-type]
        _Store(),  # type: ignore[arg-type]
        notifier,
        tracker,
        seats=frozenset({"PJSIP/1001"}),
    )
    consumer = AmiConsumer(asterisk, service, tracker, notifier, lambda _r: None)  # type: ignore[arg-type]
    return service, consumer, asterisk


def _hung_up(at: float, unique_id: str, channel: str, cause: int) -> ChannelHungUp:
    return ChannelHungUp(
        at=at, unique_id=unique_id, linked_id=LINKED, channel=channel, cause=cause, cause_text=""
    )


async def _arrive(consumer: Any, ivr_path: str = "") -> None:
    """A caller arrives and is queued (by the IVR itself when ``ivr_path``: the direct flow)."""
    await consumer.dispatch(
        CallArrived(at=1.0, call_id=CALL, linked_id=LINKED, caller="139", dialled="12345",
                    channel=CALLER_CHANNEL)
    )  # fmt: skip
    await consumer.dispatch(
        CallQueuedInAsterisk(at=2.0, call_id=CALL, skill="general", priority=0,
                             channel=CALLER_CHANNEL, caller="139", ivr_path=ivr_path)
    )  # fmt: skip


async def _ringing(consumer: Any, leg_id: str) -> None:
    """The caller's Dial made the agent's channel (HotlineAgentRinging)."""
    await consumer.dispatch(
        AgentLegRinging(at=3.0, call_id=CALL, agent_id="1001", leg_id=leg_id,
                        channel=AGENT_CHANNEL, unique_id=AGENT_UID)
    )  # fmt: skip


async def _offered(service: Any, consumer: Any) -> str:
    """Agent 1001 ready, a caller queued: the offer is sent; its leg id."""
    await service.handle(login("1001", 0.0))
    await service.handle(AgentReady(agent_id="1001", at=0.0))
    await _arrive(consumer)
    await asyncio.sleep(0.05)  # the service's AMI work runs in the background
    (leg_id,) = service.legs
    return str(leg_id)


async def _queued_by_the_ivr(consumer: Any, *, listening: bool) -> None:
    """The direct flow queues a caller as its greeting starts; ``listening``: the greeting
    is over and the IVR listens to the caller's sentence (HotlineListening)."""
    await _arrive(consumer, ivr_path="direct")
    if listening:
        await consumer.dispatch(IvrListening(at=7.0, call_id=CALL))


async def _agent_ready(service: Any, at: float) -> None:
    await service.handle(login("1001", at))
    await service.handle(AgentReady(agent_id="1001", at=at))
    await asyncio.sleep(0.05)  # the service's AMI work runs in the background


def _ivr_exit(at: float) -> IvrExited:
    return IvrExited(
        at=at, call_id=CALL, ivr_path="direct>speech:none", skill="general", priority=0,
        agi_status="SUCCESS",
    )  # fmt: skip


async def test_a_caller_in_its_greeting_is_moved_to_ring_a_free_agent_at_once() -> None:
    """The greeting is cut and the caller served: no reason to keep a free agent waiting."""
    service, consumer, asterisk = _setup()
    await _queued_by_the_ivr(consumer, listening=False)
    await _agent_ready(service, 3.0)
    (redirect,) = asterisk.actions("Redirect")
    assert redirect["Context"] == "hotline-ring-agent"
    await service.drain()


async def test_a_caller_saying_its_sentence_rings_the_agent_when_the_ivr_ends() -> None:
    """The agent is held (and sees the pop) while the caller says its sentence; the caller is
    moved to dial it when the IVR ends, not before (a Redirect would cut the IVR's AGI
    short, and the pop would never fill in with what was said)."""
    service, consumer, asterisk = _setup()
    await _queued_by_the_ivr(consumer, listening=True)
    await _agent_ready(service, 8.0)
    (leg_id,) = service.legs
    assert state_of(service.acd, "1001").state is AgentState.RINGING
    assert not asterisk.actions("Redirect") and not asterisk.actions("Setvar")
    await consumer.dispatch(_ivr_exit(12.0))
    await asyncio.sleep(0.05)
    (redirect,) = asterisk.actions("Redirect")
    assert redirect["Context"] == "hotline-ring-agent"
    variables = {a["Variable"]: a["Value"] for a in asterisk.actions("Setvar")}
    assert variables["HOTLINE_OFFER_LEG"] == leg_id
    await service.drain()


async def test_an_offer_decided_after_the_ivr_ended_rings_at_once() -> None:
    service, consumer, asterisk = _setup()
    await _queued_by_the_ivr(consumer, listening=True)
    await consumer.dispatch(_ivr_exit(12.0))
    await _agent_ready(service, 13.0)
    assert len(asterisk.actions("Redirect")) == 1
    await service.drain()


async def test_a_held_offer_survives_a_reconcile_while_its_caller_speaks() -> None:
    """After an AMI reconnect the engine checks every leg against Asterisk's channels: a held
    offer has no agent channel yet, and is not an offer lost (its caller is still there);
    with the caller gone it fails as any other."""
    service, consumer, asterisk = _setup()
    await _queued_by_the_ivr(consumer, listening=True)
    await _agent_ready(service, 8.0)
    caller = {"Channel": CALLER_CHANNEL, "Context": "citizen", "Linkedid": LINKED}
    await consumer._settle("", {CALL: caller}, "reconnected")
    assert len(service.legs) == 1
    assert state_of(service.acd, "1001").state is AgentState.RINGING
    await consumer.dispatch(_ivr_exit(12.0))
    await asyncio.sleep(0.05)
    assert len(asterisk.actions("Redirect")) == 1
    await service.drain()

    service, consumer, asterisk = _setup()
    await _queued_by_the_ivr(consumer, listening=True)
    await _agent_ready(service, 8.0)
    await consumer._settle("", {}, "reconnected")
    assert not service.legs
    assert state_of(service.acd, "1001").state is not AgentState.RINGING
    await service.drain()


async def test_a_caller_that_leaves_the_queue_in_the_ivr_never_rings_its_held_agent() -> None:
    """An emergency heard in the sentence: the call leaves the queue before the IVR ends; the
    held agent is free again and the caller, on its way to 119, is not moved to it."""
    service, consumer, asterisk = _setup()
    await _queued_by_the_ivr(consumer, listening=True)
    await _agent_ready(service, 8.0)
    assert len(service.legs) == 1
    await consumer.dispatch(CallLeftQueue(at=10.0, call_id=CALL, reason="emergency"))
    await asyncio.sleep(0.05)
    assert state_of(service.acd, "1001").state is AgentState.READY
    await consumer.dispatch(_ivr_exit(12.0))
    await asyncio.sleep(0.05)
    assert not asterisk.actions("Redirect")
    assert not service.legs
    await service.drain()


async def test_the_caller_is_sent_to_dial_the_agent_and_the_leg_follows_its_events() -> None:
    service, consumer, asterisk = _setup()
    leg_id = await _offered(service, consumer)
    variables = {a["Variable"]: a["Value"] for a in asterisk.actions("Setvar")}
    assert variables == {
        "HOTLINE_OFFER_LEG": leg_id,
        "HOTLINE_OFFER_AGENT": "1001",
        "HOTLINE_OFFER_DIAL": "PJSIP/1001",
        "HOTLINE_OFFER_RING": "15",
    }
    assert all(a["Channel"] == CALLER_CHANNEL for a in asterisk.sent)
    (redirect,) = asterisk.actions("Redirect")
    assert (redirect["Context"], redirect["Exten"], redirect["Priority"]) == (
        "hotline-ring-agent", "s", "1"
    )  # fmt: skip
    assert not asterisk.actions("Originate")  # nothing pulls the caller any more

    # The agent's channel appears (the call's Linkedid on the agent's seat): the ACD's own, so
    # the agent is not taken for busy on another call; then its ringing event names it.
    await consumer.dispatch(ChannelCreated(at=3.0, unique_id=AGENT_UID, linked_id=LINKED,
                                           channel=AGENT_CHANNEL))  # fmt: skip
    assert consumer.seats_on_other_calls() == []
    await _ringing(consumer, leg_id)
    assert service.legs[leg_id].channel == AGENT_UID
    assert service.leg(AGENT_UID) is service.legs[leg_id]

    await consumer.dispatch(
        AgentLegAnswered(at=4.0, call_id=CALL, agent_id="1001", channel=AGENT_CHANNEL,
                         unique_id=AGENT_UID, leg_id=leg_id)
    )  # fmt: skip
    assert state_of(service.acd, "1001").state is AgentState.ON_CALL
    # The agent hangs up: the call ends for the agent (the caller goes on to the rating).
    await consumer.dispatch(_hung_up(9.0, AGENT_UID, AGENT_CHANNEL, 16))
    assert state_of(service.acd, "1001").state is not AgentState.ON_CALL
    assert service.legs == {}
    assert consumer.seats_on_other_calls() == []


async def test_an_unanswered_dial_fails_the_offer_and_the_call_waits_on() -> None:
    service, consumer, _asterisk = _setup()
    leg_id = await _offered(service, consumer)
    await _ringing(consumer, leg_id)
    await consumer.dispatch(_hung_up(18.0, AGENT_UID, AGENT_CHANNEL, 19))
    assert state_of(service.acd, "1001").state is AgentState.RINGING  # the Dial says how
    await consumer.dispatch(
        OfferNotAnswered(at=18.0, call_id=CALL, agent_id="1001", leg_id=leg_id,
                         dial_status="NOANSWER")
    )  # fmt: skip
    view = state_of(service.acd, "1001")
    assert (view.state, view.reason) == (AgentState.NOT_READY, "ring_no_answer")
    assert [c.call_id for c in service.acd.waiting_calls()] == [CALL]
    assert service.legs == {}


async def test_a_caller_that_cannot_be_moved_is_not_put_through() -> None:
    """Issue 15: the caller is hanging up (Asterisk refuses its Redirect): the agent's phone
    never rings, and the offer stands, without a ring-no-answer, until the caller's hang-up
    ends it: the agent is ready again and nobody else is offered the call meanwhile."""
    service, consumer, asterisk = _setup()
    asterisk.gone.add(CALLER_CHANNEL)
    await _offered_without_leg(service, consumer)
    await asyncio.sleep(MOVE_ATTEMPTS * MOVE_RETRY_S + 0.1)  # the refused move's retries
    assert state_of(service.acd, "1001").state is AgentState.RINGING
    redirects = asterisk.actions("Redirect")
    assert len(redirects) == MOVE_ATTEMPTS, "offered again while the caller hangs up"
    legs = {a["Value"] for a in asterisk.actions("Setvar") if a["Variable"] == "HOTLINE_OFFER_LEG"}
    assert len(legs) == 1, "one offer, tried again; not a new offer"
    assert not asterisk.actions("Hangup")
    await consumer.dispatch(_hung_up(5.0, CALL, CALLER_CHANNEL, 16))
    await asyncio.sleep(0.05)
    assert state_of(service.acd, "1001").state is AgentState.READY
    assert service.legs == {}
    assert not service.acd.waiting_calls()


async def test_a_move_refused_while_an_earlier_one_is_carried_out_goes_on_the_next_try() -> None:
    """Asterisk refuses a Redirect with "channel not up" while an earlier Redirect of the
    channel (a position announcement) is still being carried out: the move is tried again a
    moment later and the agent rings; the caller was not hanging up."""
    service, consumer, asterisk = _setup()
    asterisk.gone.add(CALLER_CHANNEL)
    asyncio.get_running_loop().call_later(0.15, asterisk.gone.discard, CALLER_CHANNEL)
    await _offered_without_leg(service, consumer)
    await asyncio.sleep(MOVE_ATTEMPTS * MOVE_RETRY_S)
    redirects = asterisk.actions("Redirect")
    assert 1 < len(redirects) < MOVE_ATTEMPTS, redirects
    assert state_of(service.acd, "1001").state is AgentState.RINGING
    assert len(service.legs) == 1
    await service.drain()


async def test_a_move_refused_for_another_reason_fails_the_offer_at_once() -> None:
    """Not a hang-up (e.g. an action refused for a reason Asterisk does not give a channel
    that is going): the offer fails as a ring-no-answer and the caller keeps its place."""
    service, consumer, asterisk = _setup()
    asterisk.gone.add(CALLER_CHANNEL)
    asterisk.refuse = "Permission denied"
    await _offered_without_leg(service, consumer)
    view = state_of(service.acd, "1001")
    assert (view.state, view.reason) == (AgentState.NOT_READY, "ring_no_answer")
    assert [c.call_id for c in service.acd.waiting_calls()] == [CALL]
    assert service.legs == {}


async def _offered_without_leg(service: Any, consumer: Any) -> None:
    await service.handle(login("1001", 0.0))
    await service.handle(AgentReady(agent_id="1001", at=0.0))
    await consumer.dispatch(
        CallQueuedInAsterisk(at=2.0, call_id=CALL, skill="general", priority=0,
                             channel=CALLER_CHANNEL, caller="139")
    )  # fmt: skip
    await asyncio.sleep(0.05)


async def test_the_caller_hanging_up_while_the_agent_rings_cancels_the_offer() -> None:
    service, consumer, asterisk = _setup()
    leg_id = await _offered(service, consumer)
    await _ringing(consumer, leg_id)
    await consumer.dispatch(_hung_up(5.0, CALL, CALLER_CHANNEL, 16))
    await asyncio.sleep(0.05)
    assert state_of(service.acd, "1001").state is AgentState.READY
    assert service.legs == {}
    assert [a["Channel"] for a in asterisk.actions("Hangup")] == [AGENT_UID]


async def test_a_ringing_agent_channel_for_an_offer_no_longer_held_is_hung_up() -> None:
    service, consumer, asterisk = _setup()
    await consumer.dispatch(
        AgentLegRinging(at=3.0, call_id=CALL, agent_id="1001", leg_id="hl-gone",
                        channel=AGENT_CHANNEL, unique_id=AGENT_UID)
    )  # fmt: skip
    assert [a["Channel"] for a in asterisk.actions("Hangup")] == [AGENT_UID]
    assert service.legs == {}


def test_after_a_lost_state_a_caller_still_ringing_an_agent_is_queued_again_not_one_talking() -> (
    None
):
    """The engine's last saves lost the offer: the caller in [hotline-ring-agent] whose Dial
    has not been answered (in no bridge) waits, so it is queued again; one already talking to
    the agent (in a bridge) is not put back in the queue."""
    from hotline.acd.consumer import AmiConsumer
    from hotline.acd.core import Acd
    from hotline.acd.notifier import AcdNotifier
    from hotline.acd.service import AcdService
    from hotline.asterisk.ami.client import Reconnected
    from hotline.calls.tracker import CallTracker
    from tests.app.test_bad_input import _Asterisk

    def caller(uid: str, bridge: str) -> dict[str, str]:
        return {"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": f"PJSIP/trunk-{uid}",
                "Context": "hotline-ring-agent", "Application": "Dial", "BridgeId": bridge,
                "CallerIDNum": "139", "Duration": "0:0:5"}  # fmt: skip

    asterisk = _Asterisk([caller("1796654304.5", ""), caller("1796654304.7", "b-1")])
    tracker = CallTracker()
    notifier = AcdNotifier(_Bus())  # type: ignore[arg-type]
    service = AcdService(Acd(), asterisk, _Store(), notifier, tracker)  # type: ignore[arg-type]
    consumer = AmiConsumer(asterisk, service, tracker, notifier, lambda _r: None)  # type: ignore[arg-type]
    asyncio.run(consumer.dispatch(Reconnected(at=50.0)))
    assert [view.call_id for view in service.acd.waiting_calls()] == ["1796654304.5"]
