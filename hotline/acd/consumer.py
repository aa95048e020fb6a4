"""AMI events in: each typed event goes to the call tracker and to the ACD core.

Also reconciles with Asterisk after (re)connecting: calls and agent legs whose channels are
gone (Asterisk restarted) are closed, and callers found waiting in ``hotline-queue`` that the
ACD does not know (the engine restarted while they waited) are queued again. Channels on
agents' seats that are not the ACD's own legs (hotline/acd/phones.py) take those agents out of
routing
while they last.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hotline.acd.events import (
    AgentAnswered,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentStateChanged,
    CallbackAccepted,
    CallbackConnected,
    CallbackFailed,
    CallEnded,
    CallerHungUp,
    CallNeedChanged,
    CallQueued,
    CallWithdrawn,
    OfferFailed,
)
from hotline.acd.notifier import AcdNotifier
from hotline.acd.phones import PhoneWatch, seat_of
from hotline.acd.service import RING_CONTEXT, AcdService
from hotline.asterisk.ami.client import AmiActionError, AmiClient, NodeLost, Reconnected
from hotline.asterisk.ami.cluster import ClusterAmi, node_of
from hotline.asterisk.ami.events import (
    AgentLegAnswered,
    AgentLegRinging,
    AmiEvent,
    AsteriskBooted,
    CallArrived,
    CallbackAcceptedInIvr,
    CallbackLegConnected,
    CallbackLegFailed,
    CallLeftQueue,
    CallNeedLearned,
    CallQueuedInAsterisk,
    ChannelCreated,
    ChannelHungUp,
    HandoffEnded,
    IvrExited,
    IvrListening,
    OfferNotAnswered,
    RecordingStarted,
    ReviewCallbackResult,
    SpeechHeard,
)
from hotline.asterisk.ami.watch import LoadWatch
from hotline.calls.records import CallRecord
from hotline.calls.tracker import CallInProgress, CallTracker

log = logging.getLogger(__name__)

RecordSink = Callable[[CallRecord], Any]
# Where citizens' calls run the IVR (asterisk-config/extensions.conf).
IVR_CONTEXT = "citizen"
STICKY_LOOKUP_S = 0.5  # a caller never waits longer than this for the ticket store
# The dialplan's FILTER(0-9+*#,${CALLERID(num)}): a caller id read back from a channel gets the
# same filter before it reaches a record, a callback's Originate or a screen-pop.
_NOT_DIGIT = re.compile(r"[^0-9+*#]")


def caller_digits(raw: str) -> str:
    return _NOT_DIGIT.sub("", raw)


class AmiConsumer:
    def __init__(
        self,
        ami: AmiClient | ClusterAmi,
        service: AcdService,
        tracker: CallTracker,
        notifier: AcdNotifier,
        record_sink: RecordSink,
        *,
        clock: Callable[[], float] = time.time,
        preferred_agent: Callable[[str], Awaitable[str | None]] | None = None,
        recording_sink: Callable[[RecordingStarted], Any] | None = None,
        review_result: Callable[[ReviewCallbackResult], Awaitable[None]] | None = None,
        handoff_ended: Callable[[HandoffEnded], None] | None = None,
        watch: LoadWatch | None = None,
    ) -> None:
        self._watch = watch  # the AMI event lag (Asterisk's timestamp -> taken up here)
        self._review_result = review_result  # recordings/: a voicemail reviewer's callback
        self._handoff_ended = handoff_ended  # the leg to 110/119/120/122 (or a transfer) ended
        self._recording_sink = recording_sink  # recordings/: metadata of a call's recording
        self._preferred_agent = preferred_agent
        self._ami = ami
        self._service = service
        self._tracker = tracker
        self._notifier = notifier
        self._sink = record_sink
        self._clock = clock
        self._phones = PhoneWatch()
        self._tasks: set[asyncio.Task[Any]] = set()
        service.observers.append(self._observe)
        self.handled = 0

    async def run(self) -> None:
        async for event in self._ami.events():
            if self._watch is not None and not isinstance(event, Reconnected):
                self._watch.event_taken(event.at, self._clock())
            try:
                await self.dispatch(event)
            except Exception:  # one bad event must not stop call handling
                log.exception("error handling %r", event)

    async def dispatch(self, event: AmiEvent | Reconnected) -> None:
        self.handled += 1
        if isinstance(event, NodeLost):
            await self.node_lost(event.node)
            return
        if isinstance(event, Reconnected):
            await self.reconcile(event.node)
            return
        if isinstance(event, AsteriskBooted):
            await self.reconcile()
            return
        changed, record = self._tracker.feed(event)
        if isinstance(event, CallArrived):
            self._notifier.call_arrived(event.call_id, event.caller, event.dialled, event.at)
        elif isinstance(event, CallQueuedInAsterisk):
            self._notifier.call_queued(
                event.call_id, event.skill, event.priority, event.channel, event.at
            )
            await self._service.offer(
                CallQueued(
                    call_id=event.call_id,
                    skill=event.skill,
                    priority=event.priority,
                    caller=event.caller,
                    channel=event.channel,
                    at=event.at,
                    preferred_agent=await self._sticky(event.caller),
                )
            )
        elif isinstance(event, IvrListening):
            if event.call_id in self._tracker.calls:
                self._service.caller_listened_to(event.call_id)
        elif isinstance(event, IvrExited):
            await self._service.ivr_exited(event.call_id)
        elif isinstance(event, AgentLegRinging):
            await self._service.leg_ringing(event)
        elif isinstance(event, OfferNotAnswered):
            await self._service.offer_not_answered(event)
        elif isinstance(event, AgentLegAnswered):
            await self._service.leg_answered(
                event.leg_id, event.call_id, event.agent_id, event.unique_id
            )
            await self._service.offer(
                AgentAnswered(call_id=event.call_id, agent_id=event.agent_id, at=event.at)
            )
        elif isinstance(event, ChannelCreated):
            await self._channel_created(event)
        elif isinstance(event, ChannelHungUp):
            await self._hung_up(event)
        elif isinstance(event, RecordingStarted):
            if self._recording_sink is not None:
                self._recording_sink(event)
        elif isinstance(event, ReviewCallbackResult):
            if self._review_result is not None:
                await self._review_result(event)
        elif isinstance(event, HandoffEnded):
            if self._handoff_ended is not None:
                self._handoff_ended(event)
        elif isinstance(event, SpeechHeard):
            self._notifier.call_speech(
                event.call_id, event.text, event.subject, event.category, event.emergency
            )
        elif isinstance(event, CallNeedLearned):
            await self._service.offer(
                CallNeedChanged(
                    call_id=event.call_id, skill=event.skill, priority=event.priority, at=event.at
                )
            )
        elif isinstance(event, CallLeftQueue):
            await self._service.offer(
                CallWithdrawn(call_id=event.call_id, reason=event.reason, at=event.at)
            )
        elif isinstance(event, CallbackAcceptedInIvr):
            caller = self._tracker.calls.get(event.call_id)
            number = event.number or (caller.caller if caller else "")
            await self._service.offer(
                CallbackAccepted(call_id=event.call_id, number=number, at=event.at)
            )
        elif isinstance(event, CallbackLegConnected):
            await self._attempt_result(event.call_id, "connected", "", event.leg_id)
            await self._service.leg_answered(event.leg_id, event.call_id, event.agent_id)
            await self._service.offer(
                CallbackConnected(call_id=event.call_id, agent_id=event.agent_id, at=event.at)
            )
        elif isinstance(event, CallbackLegFailed):
            await self._attempt_result(event.call_id, "failed", event.reason)
            await self._service.offer(
                CallbackFailed(
                    call_id=event.call_id,
                    agent_id=event.agent_id,
                    reason=event.reason,
                    at=event.at,
                )
            )
        if changed is not None and record is None:
            await self._service.save()
        if record is not None:
            await self._finished(record)

    async def _attempt_result(
        self, call_id: str, outcome: str, reason: str, leg_id: str = ""
    ) -> None:
        log_ = self._service.attempts
        legs = self._service.legs.values()
        leg = self._service.leg(leg_id) or next(
            (x for x in legs if x.call_id == call_id and x.kind == "callback"), None
        )
        if log_ is not None and leg is not None:
            await log_.attempt_result(call_id, leg.attempt, outcome, reason)

    async def _sticky(self, caller: str) -> str | None:
        """The agent who handled this caller's open ticket, if any (sticky routing)."""
        if self._preferred_agent is None or not caller:
            return None
        try:
            return await asyncio.wait_for(self._preferred_agent(caller), STICKY_LOOKUP_S)
        except Exception as exc:  # the ticket store is slow or away: route as usual
            log.info("no sticky lookup for %s: %r", caller, exc)
            return None

    def seats_on_other_calls(self) -> list[str]:
        """Seats with a call the ACD did not place (what `hotline status` shows)."""
        return sorted(self._phones.busy_seats())

    def _agent_at(self, seat: str) -> str | None:
        view = self._service.acd.agent_at(seat)
        return None if view is None else view.agent_id

    def _seat_of_agent(self, agent_id: str) -> str | None:
        view = self._service.acd.agent(agent_id)
        return None if view is None else view.seat

    def _observe(self, decision: Any) -> None:
        """ACD observer: an agent logging in at a seat already on another call is busy."""
        if isinstance(decision, AgentStateChanged) and decision.reason == "login":
            seat = self._seat_of_agent(decision.agent_id)
            if seat is not None and self._phones.busy(seat):
                busy = AgentPhoneBusy(agent_id=decision.agent_id, at=decision.at)
                task = asyncio.ensure_future(self._service.offer(busy))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _is_acd_leg(self, unique_id: str, linked_id: str, channel: str = "") -> bool:
        legs = self._service.legs
        if unique_id.split(";")[0] in legs or (bool(linked_id) and linked_id in legs):
            return True  # a callback's leg: Originate's ChannelId (a Local's ;2: its Linkedid)
        if self._service.leg(unique_id) is not None:
            return True
        # An offer's agent channel is made by the caller's Dial: it shares the call's Linkedid
        # (both halves of a Local seat too), and its Newchannel comes before the engine learns
        # its Uniqueid (HotlineAgentRinging).
        return bool(channel) and self._offer_on_seat(linked_id, seat_of(channel)) is not None

    def _offer_on_seat(self, linked_id: str, seat: str) -> Any:
        """The offer leg of the call with this Linkedid to the agent at this seat, if any."""
        agent_id = self._agent_at(seat) if linked_id else None
        if agent_id is None:
            return None
        for leg in self._service.legs.values():
            if leg.kind != "offer" or leg.agent_id != agent_id:
                continue
            call = self._tracker.calls.get(leg.call_id)
            linked = call.linked_id if call is not None else leg.call_id
            if linked_id in (linked, leg.call_id):
                return leg
        return None

    async def _channel_created(self, event: ChannelCreated) -> None:
        if self._is_acd_leg(event.unique_id, event.linked_id, event.channel):
            return
        seat = seat_of(event.channel)
        if not self._phones.channel_up(seat, event.unique_id):
            return
        agent_id = self._agent_at(seat)
        if agent_id is not None:
            log.info("agent %s is on a call the ACD did not place (%s)", agent_id, event.channel)
            await self._service.offer(AgentPhoneBusy(agent_id=agent_id, at=event.at))

    async def _hung_up(self, event: ChannelHungUp) -> None:
        freed = self._phones.channel_down(event.unique_id)
        agent_id = self._agent_at(freed) if freed is not None else None
        if agent_id is not None:
            await self._service.offer(AgentPhoneFree(agent_id=agent_id, at=event.at))
        leg = self._service.leg(event.unique_id)
        if leg is not None:
            if leg.answered:
                await self._service.offer(
                    CallEnded(call_id=leg.call_id, agent_id=leg.agent_id, at=event.at)
                )
                seat = self._seat_of_agent(leg.agent_id)
                if seat is not None and self._phones.busy(seat):  # another call meanwhile
                    await self._service.offer(AgentPhoneBusy(agent_id=leg.agent_id, at=event.at))
            elif leg.kind == "callback":
                # The agent answered, the citizen did not: CallbackFailed already told the core.
                self._service.legs.pop(leg.leg_id, None)
            return  # an unanswered offer ends through the caller's Dial (or its hang-up)
        await self._service.offer(CallerHungUp(call_id=event.unique_id, at=event.at))

    async def _finished(self, record: CallRecord) -> None:
        await self._service.save()
        result = self._sink(record)
        if hasattr(result, "__await__"):
            result = await result
        # A record the store has already (an engine that took over finished the same call
        # again from an older snapshot) ends once: no second "ended" event.
        if result != "duplicate":
            self._notifier.call_ended(record)

    async def reconcile(self, node: str = "") -> None:
        """Asterisk's live channels against what the engine holds; ``node``: only that node's
        calls (a cluster node re-logged in), "" every call (one Asterisk)."""
        try:
            response = await self._send({"Action": "CoreShowChannels"}, node)
        except AmiActionError as exc:
            log.error("cannot reconcile with Asterisk %s: %s", node, exc)
            return
        messages = response if isinstance(response, list) else [response]
        live = {
            str(m.get("Uniqueid")): m
            for m in messages
            if str(m.get("Event", "")).lower() == "coreshowchannel"
        }
        lost = await self._settle(node, live, "channel lost (Asterisk restarted)")
        if not node:  # the phone watch is one Asterisk's (a cluster's seats are at the edge)
            await self._reconcile_phones(live, self._clock())
        await self._adopt_ivr_calls(live)
        known = {view.call_id for view in self._service.acd.waiting_calls()}
        unknown = [
            (uid, chan)
            for uid, chan in live.items()
            if (str(chan.get("Context")) == "hotline-queue" or self._ringing_unknown(uid, chan))
            and uid not in known
        ]
        # Asterisk lists its channels from a hash table, not in the order they came: queued
        # again in the order they were created, the callers keep their order among themselves.
        for uid, chan in sorted(unknown, key=lambda item: _created(item[0])):
            await self._requeue(uid, chan, node)
        log.info(
            "reconciled with Asterisk %s: %d live channels, %d lost calls",
            node or "",
            len(live),
            lost,
        )

    def _ringing_unknown(self, uid: str, chan: Any) -> bool:
        """A caller still ringing an agent (its Dial not answered: in no bridge) whose offer
        the engine lost with its last saves: it waits too. One already talking is not."""
        return (
            str(chan.get("Context")) == RING_CONTEXT
            and not str(chan.get("BridgeId") or "")
            and all(leg.call_id != uid for leg in self._service.legs.values())
        )

    async def _send(self, action: dict[str, Any], node: str) -> Any:
        """To one node of a cluster, or to the one Asterisk (which knows no nodes)."""
        if node:
            return await self._ami.send(action, node=node)
        return await self._ami.send(action)

    async def node_lost(self, node: str) -> None:
        """A cluster node is gone: every call on it ends (outcome node_failed), its agents'
        legs end (wrap-up, never left on a call), its waiting callers leave the queue."""
        lost = await self._settle(node, {}, f"node {node} failed", node_failed=True)
        log.error("node %s lost: %d calls ended", node, lost)

    async def _settle(
        self, node: str, live: dict[str, Any], cause: str, *, node_failed: bool = False
    ) -> int:
        def mine(call_id: str) -> bool:
            return not node or node_of(call_id) == node

        now = self._clock()
        lost = 0
        for call_id in [c for c in self._tracker.calls if mine(c)]:
            if call_id not in live:
                record = self._tracker.lose(call_id, now, cause, node_failed=node_failed)
                if record is not None:
                    lost += 1
                    # Each branch says what it did, with the ids: the fault tests check them.
                    log.info("call %s lost: recorded as %s", call_id, record.outcome.value)
                    await self._finished(record)
        for leg in list(self._service.legs.values()):
            if leg.kind == "offer" and not leg.channel:
                # Rung while no engine listened (a restart): its channel by the call and seat.
                leg.channel = self._live_agent_channel(leg, live)
            chan = live.get(leg.agent_channel)
            if chan is not None and self._answered_unheard(leg, chan):
                # The agent answered while no engine listened (a takeover): as if heard now.
                await self.dispatch(
                    AgentLegAnswered(
                        at=now,
                        call_id=leg.call_id,
                        agent_id=leg.agent_id,
                        channel=str(chan.get("Channel", "")),
                        unique_id=leg.agent_channel,
                        leg_id=leg.leg_id,
                    )
                )
            if self._service.parked(leg.leg_id) and leg.call_id in live:
                continue  # held while its caller speaks: no agent channel yet, none lost
            if leg.agent_channel not in live and mine(leg.call_id):
                event: Any = (
                    CallEnded(call_id=leg.call_id, agent_id=leg.agent_id, at=now)
                    if leg.answered
                    else OfferFailed(
                        call_id=leg.call_id,
                        agent_id=leg.agent_id,
                        reason="channel lost",
                        at=now,
                    )
                )
                log.info(
                    "agent %s's leg %s for call %s lost: %s",
                    leg.agent_id,
                    leg.leg_id,
                    leg.call_id,
                    "call ended" if leg.answered else "offer failed",
                )
                await self._service.offer(event)
                self._service.legs.pop(leg.leg_id, None)
        for view in self._service.acd.waiting_calls():
            if view.call_id not in live and mine(view.call_id):
                log.info("waiting call %s gone: abandoned", view.call_id)
                await self._service.offer(CallerHungUp(call_id=view.call_id, at=now))
        return lost

    def _live_agent_channel(self, leg: Any, live: dict[str, Any]) -> str:
        """The Uniqueid of an offer's agent channel among the live ones ("" if none): on the
        agent's seat with the call's Linkedid (a Local seat: its first half)."""
        seat = self._seat_of_agent(leg.agent_id)
        call = self._tracker.calls.get(leg.call_id)
        linked = call.linked_id if call is not None else leg.call_id
        for uid, chan in live.items():
            name = str(chan.get("Channel", ""))
            if (
                str(chan.get("Linkedid", "")) in (linked, leg.call_id)
                and seat_of(name) == seat
                and not name.endswith(";2")
            ):
                return uid
        return ""

    @staticmethod
    def _answered_unheard(leg: Any, chan: Any) -> bool:
        # An offer's agent channel is up only once the agent has answered.
        return leg.kind == "offer" and not leg.answered and str(chan.get("ChannelState")) == "6"

    async def _adopt_ivr_calls(self, live: dict[str, Any]) -> None:
        """Citizens in the IVR whose arrival no engine heard (it came while the engine was
        down or taking over): tracked from what the channel says, so they get a record."""
        for uid, chan in live.items():
            if str(chan.get("Context")) != IVR_CONTEXT or uid in self._tracker.calls:
                continue
            now = self._clock()
            arrived = now - _seconds(str(chan.get("Duration", "")))
            caller = caller_digits(str(chan.get("CallerIDNum", "")))
            self._tracker.calls[uid] = CallInProgress(
                call_id=uid,
                linked_id=str(chan.get("Linkedid") or uid),
                caller=caller,
                dialled=str(chan.get("Exten", "")),
                channel=str(chan.get("Channel")),
                arrived_at=arrived,
            )
            log.info("found caller %s in the IVR; tracked from now", uid)
            self._notifier.call_arrived(uid, caller, str(chan.get("Exten", "")), arrived)

    async def _reconcile_phones(self, live: dict[str, Any], now: float) -> None:
        """Agents' phones on other calls, from the live channels (the watch was in memory)."""
        channels = [
            (uid, str(chan.get("Linkedid", "")), str(chan.get("Channel", "")))
            for uid, chan in live.items()
        ]
        names = {uid: name for uid, _linked, name in channels}
        self._phones.reset(channels, lambda uid, linked: self._is_acd_leg(uid, linked, names[uid]))
        seats = self._phones.busy_seats()
        snapshot = self._service.acd.snapshot()["agents"]
        busy = {a["agent_id"] for a in snapshot if a["seat"] in seats}
        for agent in snapshot:
            agent_id = agent["agent_id"]
            if agent.get("phone_busy") and agent_id not in busy:
                await self._service.offer(AgentPhoneFree(agent_id=agent_id, at=now))
            elif agent_id in busy and not agent.get("phone_busy"):
                await self._service.offer(AgentPhoneBusy(agent_id=agent_id, at=now))

    async def _requeue(self, uid: str, chan: Any, node: str = "") -> None:
        async def var(name: str, default: str) -> str:
            try:
                resp = await self._send(
                    {"Action": "Getvar", "Channel": str(chan.get("Channel")), "Variable": name},
                    node,
                )
                return str(resp.get("Value") or default)
            except AmiActionError:
                return default

        skill = await var("HOTLINE_SKILL", "general")
        try:
            priority = int(await var("HOTLINE_PRIORITY", "0"))
        except ValueError:
            priority = 0
        caller = caller_digits(str(chan.get("CallerIDNum", "")))
        log.info("found caller %s waiting in Asterisk; queueing again (skill %s)", uid, skill)
        if uid not in self._tracker.calls:
            # The process died before its last state reached Redis: without this the call
            # would end with no record. What the channel still knows is enough for one.
            now = self._clock()
            arrived = now - _seconds(str(chan.get("Duration", "")))
            self._tracker.calls[uid] = CallInProgress(
                call_id=uid,
                linked_id=str(chan.get("Linkedid") or uid),
                caller=caller,
                dialled="",  # not kept on the channel
                channel=str(chan.get("Channel")),
                arrived_at=arrived,
                queued_at=arrived,  # not known any better: counted as waiting since arrival
                ivr_path=await var("HOTLINE_IVR_PATH", ""),
                skill=skill,
            )
            self._notifier.call_arrived(uid, caller, "", arrived)
        await self._service.offer(
            CallQueued(
                call_id=uid,
                skill=skill,
                priority=priority,
                caller=caller,
                channel=str(chan.get("Channel")),
                at=self._clock(),
            )
        )


def _created(uid: str) -> tuple[float, int]:
    """When a channel was made, from its Uniqueid ("[node-]<epoch>.<sequence>"): the epoch
    second, then Asterisk's own counter within it (an id that is not one sorts first)."""
    epoch, _, seq = uid.rpartition("-")[2].partition(".")
    try:
        return float(epoch), int(seq)
    except ValueError:
        return 0.0, 0


def _seconds(duration: str) -> float:
    """AMI's channel Duration ("HH:MM:SS") in seconds; 0 when it cannot be read."""
    try:
        hours, minutes, seconds = (int(part) for part in duration.split(":"))
    except ValueError:
        return 0.0
    return float(hours * 3600 + minutes * 60 + seconds)
