"""The live ACD: feeds the sans-I/O core, saves its state, carries out its decisions over AMI.

One lock serialises events into the core, so decisions follow the exact order events arrived.
After events the core's snapshot (plus the agent legs we rang) goes to Redis, at most once per
SAVE_INTERVAL_S however fast events come; a restarted engine loads it and reconciles with the
channels Asterisk still has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hotline.acd.core import Acd, AcdError
from hotline.acd.events import (
    AgentStateChanged,
    AnnouncePosition,
    CallAbandoned,
    CallAnswered,
    CallbackCancelled,
    CallbackGaveUp,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallLeft,
    CancelOffer,
    MissedCallListed,
    OfferCall,
    OfferCallback,
    OfferFailed,
    PlaceCallback,
    SendToVoicemail,
)
from hotline.acd.notifier import AcdNotifier
from hotline.acd.store import RedisAcdStore
from hotline.asterisk.ami.client import DECISION_TOKEN, AmiActionError, AmiClient, originate
from hotline.asterisk.ami.cluster import node_of
from hotline.asterisk.ami.events import AgentLegRinging, OfferNotAnswered
from hotline.calls.tracker import CallTracker

log = logging.getLogger(__name__)
SAVE_TIMEOUT_S = 2.0
# At most one snapshot per interval while events stream in: the encode costs as much as the
# whole state (300 calls up: about 10 ms on a busy core), so a save per event was the engine's
# largest cost and grew with the event rate (py-spy at 300 up: 38-56 % of its CPU; at 50 ms
# still 20 %). A save someone waits for (write-ahead of a leg, persist) goes at once.
SAVE_INTERVAL_S = 0.25
# And no more than 1/SAVE_CPU_SHARE_INV of a core for it as the state grows (400 up: 12 ms of
# CPU per encode, so one save per 0.6 s), never further apart than SAVE_INTERVAL_MAX_S.
SAVE_CPU_SHARE_INV = 50
SAVE_INTERVAL_MAX_S = 2.0

# Decisions also published on MQTT as calls/<id>/<kind> (wallboards, other systems).
PUBLISHED = (
    CallEstimate,
    AnnouncePosition,
    OfferCallback,
    SendToVoicemail,
    MissedCallListed,
    CallbackGaveUp,
    CallbackCancelled,
    CallLeft,
)
CALLBACK_NUMBER = re.compile(r"\+?[0-9]{3,20}")
# Where the caller's own channel dials the agent (asterisk-config/extensions.conf).
RING_CONTEXT = "hotline-ring-agent"
# Asterisk's answers to a Setvar/Redirect of a channel that is hanging up or gone (manager.c:
# "Redirect failed, channel not up.", "Channel does not exist: ...", "No such channel").
CALLER_GOING = re.compile(r"channel not up|does not exist|no such channel", re.IGNORECASE)
CALLER_GONE = "caller hanging up"
# A refused move is tried again this many times in all, this far apart, before the caller is
# taken for one hanging up (an earlier Redirect still being carried out is refused the same way).
MOVE_ATTEMPTS = 5
MOVE_RETRY_S = 0.1
# How long an offer whose caller was hanging up waits for that caller's Hangup before it
# fails anyway: a hang-up still unfinished after this is not one being finished.
CALLER_GONE_WAIT_S = 60.0
# _ring's answer for a queued caller the IVR is listening to (the direct flow's sentence): the
# agent is held and sees the pop; the caller rings it when the IVR ends.
PARKED = "caller still saying its sentence"
# How long an offer may wait for its caller to leave the IVR before the caller is sent to the
# agent anyway (the sentence takes at most [speech] max_s, 10 s by default; a lost
# HotlineIvrExit must not hold an agent for ever).
PARKED_WAIT_S = 60.0


class CallbackLog(Protocol):
    """Where callback attempts are written (the call record store)."""

    async def attempt_placed(
        self, call_id: str, attempt: int, agent_id: str, number: str
    ) -> None: ...

    async def attempt_result(
        self, call_id: str, attempt: int, outcome: str, reason: str
    ) -> None: ...


@dataclass
class AgentLeg:
    """A call we placed to an agent's phone for a waiting caller."""

    leg_id: str
    call_id: str
    agent_id: str
    answered: bool = False
    kind: str = "offer"
    """"offer": rings the agent for a waiting caller; "callback": agent first, then the citizen."""
    attempt: int = 0
    """For a callback: which attempt this is (1 for the first)."""
    channel: str = ""
    """The Uniqueid of the agent's channel: an offer's is Asterisk's own, learned when the
    caller's Dial makes it ("" until then); a callback's is its leg id (Originate's ChannelId)."""

    @property
    def agent_channel(self) -> str:
        """What AMI actions on the agent's channel name (a Uniqueid: Asterisk accepts one)."""
        return self.channel or self.leg_id


class AcdService:
    def __init__(
        self,
        acd: Acd,
        ami: AmiClient,
        store: RedisAcdStore,
        notifier: AcdNotifier,
        tracker: CallTracker,
        *,
        clock: Callable[[], float] = time.time,
        action_timeout_s: float = 10.0,
        callback_dial: str = "PJSIP/{number}@citizen-trunk",
        callback_ring_s: float = 30.0,
        attempts: CallbackLog | None = None,
        seats: frozenset[str] | None = None,
        write_ahead: bool = False,
        save_interval_s: float = SAVE_INTERVAL_S,
    ) -> None:
        self.attempts = attempts
        # With a standby engine: an agent is rung only once the leg is in Redis, so the engine
        # that takes over knows every leg the last leader placed (a save lost on the way would
        # otherwise leave an agent on a call the new leader does not know, and offer another).
        self._write_ahead = write_ahead
        self._changes = 0  # state changes asked to be saved
        self._saved_through = 0  # the newest change known to be in Redis
        self._save_done = asyncio.Event()  # pulsed after every save attempt
        self._save_interval_s = save_interval_s
        self._last_save = -math.inf  # time.monotonic() when the last save started
        self._hurry = asyncio.Event()  # someone waits for the next save: skip the interval
        self._withdrawn: set[str] = set()  # legs whose offer was cancelled while being placed
        # Queued callers the IVR is listening to (the direct flow's sentence, HotlineListening
        # to HotlineIvrExit), and the offers waiting for them: moved to the agent at once, the
        # caller would be cut off mid-sentence and the agent's pop would never fill in with
        # it, so the agent's phone rings when the IVR ends (ivr_exited). During the greeting
        # the caller is moved at once: the greeting is cut, the caller served.
        self._listening: set[str] = set()
        self._parked: dict[str, tuple[OfferCall, str]] = {}
        # One move of a caller's channel at a time (an announcement decided before the offer
        # must not land after it: its Redirect would end the caller's Dial to the agent).
        self._moves: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._watchdogs: set[asyncio.Task[None]] = set()
        self._seats = seats  # None: any (tests of the core's plumbing); the engine passes its own
        self._callback_dial = callback_dial
        self._callback_ring_s = callback_ring_s
        self.acd = acd
        self._ami = ami
        self._store = store
        self._notifier = notifier
        self.notifier = notifier  # the desktop listens to it too (what callers said)
        self.tracker = tracker
        self._clock = clock
        self._action_timeout_s = action_timeout_s
        self._lock = asyncio.Lock()
        self.legs: dict[str, AgentLeg] = {}
        self._saving = False
        self._dirty = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.observers: list[Callable[[Any], None]] = []
        """Called with every decision of the core (metrics, wallboards)."""

    # -- state -----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "acd": self.acd.snapshot(),
            "legs": {k: vars(v) for k, v in self.legs.items()},
            "calls": {k: CallTracker.to_json(v) for k, v in self.tracker.calls.items()},
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load a snapshot; AcdError (nothing changed) if it is not one this centre could write.

        A seat is dialled as it stands in the snapshot: one that is not a configured dial
        string (written by someone else into Redis, or a configuration since changed) refuses
        the whole snapshot; reconciliation then queues the callers Asterisk still holds again.
        """
        acd = Acd.restore(data["acd"], self.acd.policy)
        if self._seats is not None:
            for agent in acd.agents():
                if agent.seat not in self._seats:
                    raise AcdError(
                        f"agent {agent.agent_id!r} is at seat {agent.seat[:80]!r}, "
                        "which is not a configured dial string"
                    )
        legs = {k: AgentLeg(**v) for k, v in data.get("legs", {}).items()}
        calls = {k: CallTracker.from_json(v) for k, v in data.get("calls", {}).items()}
        self.acd, self.legs, self.tracker.calls = acd, legs, calls

    async def saved(self) -> dict[str, Any] | None:
        """The snapshot saved in Redis; None if there is none or it is refused (logged)."""
        return await self._store.load()

    async def save(self) -> None:
        """Ask for the state to be saved soon; returns at once (persist() waits for Redis)."""
        self._save_soon()

    def _save_soon(self, *, hurry: bool = False) -> None:
        """Ask for a save: the one save loop (started here if none runs) writes it."""
        self._changes += 1
        self._dirty = True
        if hurry:
            self._hurry.set()
        if not self._saving:
            self._saving = True  # claimed now: a second request before the task runs joins it
            self._spawn(self._save_loop())

    async def _save_loop(self) -> None:
        """Save the latest state until no change is left; requests meanwhile coalesce.

        Under load a save per event would cost more than the events (the snapshot grows with
        the queue): the loop writes the newest state at most once per interval, sooner when
        someone waits for it. A restarted engine reconciles whatever the last save missed
        with the channels Asterisk still holds.
        """
        try:
            while self._dirty:
                cost = getattr(self._store, "last_encode_s", 0.0)  # test doubles: none
                gap = min(SAVE_INTERVAL_MAX_S, SAVE_CPU_SHARE_INV * cost)
                due = self._last_save + max(self._save_interval_s, gap) - time.monotonic()
                if due > 0 and not self._hurry.is_set():
                    # Events arriving meanwhile only mark the state dirty: one encode for all.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._hurry.wait(), due)
                self._hurry.clear()
                self._dirty = False
                change = self._changes
                self._last_save = time.monotonic()
                try:
                    # Bounded: Redis unreachable without a refusal (a cut link) would hold the
                    # save, and whoever awaits it, until TCP gives up, minutes later.
                    await asyncio.wait_for(self._store.save(self.snapshot()), SAVE_TIMEOUT_S)
                    self._saved_through = max(self._saved_through, change)
                except Exception as exc:  # Redis away: serve from memory, save on the next event
                    log.error("could not save ACD state to Redis: %r", exc)
                    break
                finally:
                    self._save_done.set()
                    self._save_done = asyncio.Event()
        finally:
            self._saving = False
            self._save_done.set()
            self._save_done = asyncio.Event()

    async def persist(self) -> bool:
        """Save the state as it is now and wait until Redis has it; False if it did not."""
        self._save_soon(hurry=True)
        target = self._changes
        while self._saved_through < target:
            if not self._saving:  # the saves stopped short of it: Redis away, or not leading
                return self._saved_through >= target
            await self._save_done.wait()
        return True

    async def _save_ahead(self) -> bool:
        """Before an action that creates a leg: with a standby engine, only once saved."""
        if not self._write_ahead:
            # Best effort, not waited for: one engine serves from memory when Redis is away,
            # and a restart reconciles with Asterisk's channels (the leg is in the next save).
            self._save_soon()
            return True
        return await self.persist()

    # -- events in -------------------------------------------------------
    async def handle(self, event: Any) -> list[Any]:
        """Feed one core event; raises AcdError (nothing changed) if it does not fit."""
        async with self._lock:
            if isinstance(event, CallEnded | CallerHungUp):
                self._listening.discard(event.call_id)  # even if the core no longer knows it
                self._parked.pop(event.call_id, None)
            decisions = self.acd.handle(event)
            if isinstance(event, CallEnded | CallerHungUp):
                self._forget_legs(event)
        # Outside the lock and in the background: events never wait for Redis (a save already
        # running takes this state up too, see _save).
        self._save_soon()
        # The decisions carry the fencing token they were taken under (with a standby
        # engine): the AMI client refuses them if that token is no longer this engine's.
        gate = getattr(self._ami, "gate", None)  # test doubles may not have one
        DECISION_TOKEN.set(None if gate is None else gate())
        for decision in decisions:
            for observer in self.observers:
                try:
                    observer(decision)
                except Exception:  # an observer's bug must not stop the calls
                    log.exception("ACD observer failed on %r", decision)
            self._execute(decision)
        return list(decisions)

    async def offer(self, event: Any) -> list[Any]:
        """Like handle(), but an event that does not fit is logged and dropped."""
        try:
            return await self.handle(event)
        except AcdError as exc:
            log.debug("ACD ignored %s: %s", type(event).__name__, exc)
            return []

    def _forget_legs(self, event: CallEnded | CallerHungUp) -> None:
        if isinstance(event, CallEnded):
            self.legs = {k: v for k, v in self.legs.items() if v.call_id != event.call_id}

    def leg(self, leg_id: str) -> AgentLeg | None:
        """A leg by its id or by the Uniqueid of its agent's channel."""
        found = self.legs.get(leg_id)
        if found is not None or not leg_id:
            return found
        return next((leg for leg in self.legs.values() if leg.channel == leg_id), None)

    async def leg_answered(
        self, leg_id: str, call_id: str, agent_id: str, channel: str = ""
    ) -> None:
        """The agent answered; ``channel``: the Uniqueid of the agent's channel."""
        async with self._lock:
            leg = self.legs.get(leg_id) or self.leg(channel)
            if leg is None:  # e.g. answered just after a restart lost the offer
                self.legs[leg_id or channel] = AgentLeg(
                    leg_id or channel, call_id, agent_id, answered=True, channel=channel
                )
            else:
                leg.answered = True
                leg.channel = leg.channel or channel
        self._save_soon()

    async def leg_ringing(self, event: AgentLegRinging) -> None:
        """The caller's Dial made the agent's channel: the leg is that channel from now on.
        A channel for an offer no longer held (withdrawn meanwhile) is hung up at once."""
        async with self._lock:
            leg = self.legs.get(event.leg_id)
            known = leg is not None and leg.call_id == event.call_id and not leg.channel
            if leg is not None and known:
                leg.channel = event.unique_id
        if not known:
            log.info(
                "call %s: agent %s's phone rang for an offer no longer held (%s); hung up",
                event.call_id,
                event.agent_id,
                event.leg_id,
            )
            await self.hangup(event.unique_id)
            return
        self._save_soon()

    async def offer_not_answered(self, event: OfferNotAnswered) -> None:
        """The caller's Dial to the agent ended unanswered: the offer failed."""
        async with self._lock:
            leg = self.legs.get(event.leg_id)
            if leg is not None and leg.call_id == event.call_id and not leg.answered:
                del self.legs[event.leg_id]
            elif leg is not None or any(x.call_id == event.call_id for x in self.legs.values()):
                return  # not this offer's (or already answered)
        # A leg we do not hold (withdrawn, or lost with a restart): the core judges.
        log.info(
            "agent %s did not take call %s: %s", event.agent_id, event.call_id, event.dial_status
        )
        await self.offer(
            OfferFailed(
                call_id=event.call_id,
                agent_id=event.agent_id,
                reason=f"no answer ({event.dial_status})",
                at=event.at,
            )
        )

    # -- decisions out ---------------------------------------------------
    def _execute(self, decision: Any) -> None:
        if isinstance(decision, OfferCall):
            self._spawn(self._ring_agent(decision))
        elif isinstance(decision, CancelOffer):
            self._spawn(self._cancel(decision))
        elif isinstance(decision, AgentStateChanged):
            self._notifier.agent_state(decision)
        elif isinstance(decision, CallAnswered):
            self._notifier.call_answered(decision)
        elif isinstance(decision, CallAbandoned):
            self._notifier.call_abandoned(decision)
        elif isinstance(decision, AnnouncePosition):
            minutes = "" if decision.ewt_s is None else str(max(1, math.ceil(decision.ewt_s / 60)))
            self._spawn(
                self._redirect(
                    decision.call_id,
                    "hotline-announce",
                    {"HOTLINE_POSITION": str(decision.position), "HOTLINE_EWT_MIN": minutes},
                )
            )
        elif isinstance(decision, OfferCallback):
            self._spawn(self._redirect(decision.call_id, "hotline-offer-callback", {}))
        elif isinstance(decision, SendToVoicemail):
            self._spawn(self._redirect(decision.call_id, "hotline-voicemail", {}))
        elif isinstance(decision, PlaceCallback):
            self._spawn(self._place_callback(decision))
        if isinstance(decision, PUBLISHED):
            self._notifier.decision(decision)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def caller_listened_to(self, call_id: str) -> None:
        """The IVR listens to this queued caller's sentence until it exits (HotlineListening)."""
        self._listening.add(call_id)

    def parked(self, leg_id: str) -> bool:
        """Is this offer held for a caller still saying its sentence (no agent channel yet)?"""
        return any(held == leg_id for _offer, held in self._parked.values())

    async def ivr_exited(self, call_id: str) -> None:
        """The caller's IVR ended (HotlineIvrExit): an offer held for it rings the agent now."""
        self._listening.discard(call_id)  # before the lock: an offer deciding now rings at once
        async with self._move_lock(call_id):
            parked = self._parked.pop(call_id, None)
        if parked is not None:
            offer, leg_id = parked
            if leg_id in self.legs and leg_id not in self._withdrawn:
                self._spawn(self._ring_and_watch(offer, leg_id, announce=False))

    async def _ring_agent(self, offer: OfferCall) -> None:
        leg_id = f"hl-{uuid.uuid4().hex[:20]}"
        self.legs[leg_id] = AgentLeg(leg_id, offer.call_id, offer.agent_id)
        await self._ring_and_watch(offer, leg_id, announce=True)

    async def _ring_and_watch(self, offer: OfferCall, leg_id: str, *, announce: bool) -> None:
        try:
            reason = await self._ring(offer, leg_id, announce=announce)
        finally:
            self._withdrawn.discard(leg_id)
        if reason == PARKED:
            log.info(
                "call %s: agent %s waits for the caller to leave the IVR",
                offer.call_id,
                offer.agent_id,
            )
            watchdog = asyncio.ensure_future(self._watch_parked(offer, leg_id))
            self._watchdogs.add(watchdog)
            watchdog.add_done_callback(self._watchdogs.discard)
            return
        if reason == CALLER_GONE:
            # The caller is hanging up (Asterisk refused to move a channel with a hang-up
            # pending, or it is gone): the agent's phone never rang, so this is no ring-no-
            # answer. The offer stands until the caller's Hangup ends it (CallerHungUp: the
            # agent is ready again, the call an abandon); offered again meanwhile, the call
            # would be refused again by every ready agent in turn. If no Hangup comes, the
            # watchdog fails the offer after CALLER_GONE_WAIT_S.
            log.info(
                "call %s: the caller is hanging up; agent %s's offer waits for its hang-up",
                offer.call_id,
                offer.agent_id,
            )
        if reason and reason != CALLER_GONE:
            log.info("agent %s did not take call %s: %s", offer.agent_id, offer.call_id, reason)
            self.legs.pop(leg_id, None)
            await self.offer(
                OfferFailed(
                    call_id=offer.call_id,
                    agent_id=offer.agent_id,
                    reason=reason,
                    at=self._clock(),
                )
            )
            return
        wait_s = offer.ring_timeout_s + self._action_timeout_s
        if reason == CALLER_GONE:
            wait_s = max(wait_s, CALLER_GONE_WAIT_S)
        watchdog = asyncio.ensure_future(self._watch_offer(offer, leg_id, wait_s))
        self._watchdogs.add(watchdog)
        watchdog.add_done_callback(self._watchdogs.discard)

    async def _watch_parked(self, offer: OfferCall, leg_id: str) -> None:
        """A caller that never leaves the IVR (its HotlineIvrExit lost) is sent anyway.
        Logged as a warning: the IVR's listening is bounded well below this."""
        await asyncio.sleep(PARKED_WAIT_S)
        async with self._move_lock(offer.call_id):
            parked = self._parked.get(offer.call_id)
            if parked is None or parked[1] != leg_id:
                return
            del self._parked[offer.call_id]
            self._listening.discard(offer.call_id)
        log.warning(
            "call %s: no IVR exit after %.0f s; agent %s is rung now",
            offer.call_id,
            PARKED_WAIT_S,
            offer.agent_id,
        )
        if leg_id in self.legs and leg_id not in self._withdrawn:
            await self._ring_and_watch(offer, leg_id, announce=False)

    async def _ring(self, offer: OfferCall, leg_id: str, *, announce: bool = True) -> str:
        """Send the caller to ring the agent (its own Dial, [hotline-ring-agent]); why it
        could not ("" if it went, PARKED if the caller is still in the IVR). Whether the
        agent answers comes as events."""
        if not await self._save_ahead():
            return "state not saved"
        if self._seats is not None and offer.seat not in self._seats:
            return f"seat {offer.seat[:80]!r} is not a configured dial string"
        ring_s = str(max(1, math.ceil(offer.ring_timeout_s)))
        async with self._move_lock(offer.call_id):
            # The offer may have been withdrawn (the caller hung up) while the leg was saved or
            # an earlier move of the caller finished: sent now, the caller would ring the agent
            # for nobody while the ACD offers the agent the next call.
            if leg_id in self._withdrawn or leg_id not in self.legs:
                return "withdrawn before the agent was rung"
            if announce:
                self._notifier.call_offered(offer)  # the agent's pop, ringing or held
            if offer.call_id in self._listening:
                self._parked[offer.call_id] = (offer, leg_id)
                return PARKED
            actions: list[dict[str, Any]] = [
                {"Action": "Setvar", "Channel": offer.channel, "Variable": name, "Value": value}
                for name, value in (
                    ("HOTLINE_OFFER_LEG", leg_id),
                    ("HOTLINE_OFFER_AGENT", offer.agent_id),
                    ("HOTLINE_OFFER_DIAL", offer.seat),
                    ("HOTLINE_OFFER_RING", ring_s),
                )
            ]
            actions.append(
                {"Action": "Redirect", "Channel": offer.channel, "Context": RING_CONTEXT,
                 "Exten": "s", "Priority": "1"}
            )  # fmt: skip
            for attempt in range(MOVE_ATTEMPTS):
                # Written back to back, answers awaited together: one round trip, not five,
                # before the agent's phone rings. Asterisk runs one login's actions in the
                # order they came, so the Redirect finds the variables set.
                sent = await asyncio.gather(
                    *(self._to_call(offer.call_id, action) for action in actions),
                    return_exceptions=True,
                )
                refused = next((r for r in sent if isinstance(r, AmiActionError)), None)
                failed = next((r for r in sent if isinstance(r, BaseException)), None)
                if refused is None and failed is not None:
                    raise failed
                if refused is None:
                    return ""
                if not CALLER_GOING.search(str(refused)):
                    return f"caller not sent to the agent: {refused}"
                # "Channel not up" also answers a Redirect while an earlier one (a position
                # announcement, the end of a waiting-key script) is still being carried out:
                # the channel is live and free again within milliseconds. Measured (a trace
                # at 89 % occupancy, announcements every 20 s): taken for a hang-up, the
                # agent was held 60 s. A caller really hanging up withdraws the offer
                # meanwhile (its Hangup), and only then does the refusal stand.
                if attempt + 1 < MOVE_ATTEMPTS:
                    await asyncio.sleep(MOVE_RETRY_S)
                    if leg_id in self._withdrawn or leg_id not in self.legs:
                        return "withdrawn before the agent was rung"
        return CALLER_GONE

    async def _watch_offer(self, offer: OfferCall, leg_id: str, wait_s: float) -> None:
        """The caller's Dial says how the offer went; if nothing came (its channel was moved
        away meanwhile), the offer fails after ``wait_s`` (the ring time and a margin)."""
        await asyncio.sleep(wait_s)
        leg = self.legs.get(leg_id)
        if leg is None or leg.answered:
            return
        log.warning(
            "call %s: no word from Asterisk on agent %s's offer %s; failed",
            offer.call_id,
            offer.agent_id,
            leg_id,
        )
        self.legs.pop(leg_id, None)
        if leg.channel:
            await self.hangup(leg.channel)
        await self.offer(
            OfferFailed(
                call_id=offer.call_id,
                agent_id=offer.agent_id,
                reason="no outcome from Asterisk",
                at=self._clock(),
            )
        )

    def _move_lock(self, call_id: str) -> asyncio.Lock:
        lock = self._moves.get(call_id)
        if lock is None:
            lock = self._moves[call_id] = asyncio.Lock()
        return lock

    def _caller_channel(self, call_id: str) -> str | None:
        call = self.tracker.calls.get(call_id)
        if call is not None:
            return call.channel
        return next((v.channel for v in self.acd.waiting_calls() if v.call_id == call_id), None)

    async def _redirect(self, call_id: str, context: str, variables: dict[str, str]) -> None:
        """Move a waiting caller to `context` (announcement, callback offer, voicemail)."""
        channel = self._caller_channel(call_id)
        if channel is None:
            log.info("call %s: no channel to redirect to %s", call_id, context)
            return
        async with self._move_lock(call_id):
            await self._redirect_channel(call_id, channel, context, variables)

    async def _redirect_channel(
        self, call_id: str, channel: str, context: str, variables: dict[str, str]
    ) -> None:
        try:
            for name, value in variables.items():
                await self._to_call(
                    call_id,
                    {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value},
                )
            await self._to_call(
                call_id,
                {
                    "Action": "Redirect",
                    "Channel": channel,
                    "Context": context,
                    "Exten": "s",
                    "Priority": "1",
                },
            )
        except AmiActionError as exc:  # the caller may just have hung up
            log.info("call %s: redirect to %s failed: %s", call_id, context, exc)

    async def _to_call(self, call_id: str, action: dict[str, Any]) -> Any:
        """An action on a caller's channel, to the node of its call in a cluster (its id
        names it; the channel's name does not, and an engine that took over never saw the
        channel made)."""
        node = node_of(call_id)
        if node:
            return await self._ami.send(action, node=node)
        return await self._ami.send(action)

    async def _place_callback(self, place: PlaceCallback) -> None:
        leg_id = f"hl-cb-{uuid.uuid4().hex[:17]}"
        reason = ""
        if not CALLBACK_NUMBER.fullmatch(place.number):
            reason = f"not a diallable number: {place.number!r}"
        else:
            self.legs[leg_id] = AgentLeg(
                leg_id,
                place.call_id,
                place.agent_id,
                kind="callback",
                attempt=place.attempt,
                channel=leg_id,
            )
        if not reason and not await self._save_ahead():
            reason = "state not saved"
            self.legs.pop(leg_id, None)
        if not reason:
            if self.attempts is not None:
                await self.attempts.attempt_placed(
                    place.call_id, place.attempt, place.agent_id, place.number
                )
            self._notifier.decision(place)
            try:
                rang = await originate(
                    self._ami,
                    place.seat,
                    "hotline-callback-agent",
                    ring_s=place.ring_timeout_s,
                    caller=(place.number, place.number),
                    channel_id=leg_id,
                    variables=[
                        f"HOTLINE_CALL={place.call_id}",
                        f"HOTLINE_AGENT={place.agent_id}",
                        f"HOTLINE_CALLBACK_DIAL={self._callback_dial.format(number=place.number)}",
                        f"HOTLINE_CALLBACK_RING={int(self._callback_ring_s)}",
                    ],
                    margin_s=self._action_timeout_s,
                )
                if not rang.answered:
                    reason = f"agent did not answer (reason {rang.reason})"
            except AmiActionError as exc:
                reason = str(exc)
        if reason:
            log.info("callback %s via agent %s failed: %s", place.call_id, place.agent_id, reason)
            self.legs.pop(leg_id, None)
            if self.attempts is not None:
                await self.attempts.attempt_result(
                    place.call_id, place.attempt, "agent_no_answer", reason
                )
            await self.offer(
                OfferFailed(
                    call_id=place.call_id, agent_id=place.agent_id, reason=reason, at=self._clock()
                )
            )

    async def _cancel(self, cancel: CancelOffer) -> None:
        for leg in list(self.legs.values()):
            if leg.call_id == cancel.call_id and leg.agent_id == cancel.agent_id:
                self._withdrawn.add(leg.leg_id)  # not rung yet: it never will be
                parked = self._parked.get(leg.call_id)
                if parked is not None and parked[1] == leg.leg_id:
                    del self._parked[leg.call_id]  # its caller never rings it
                    self._withdrawn.discard(leg.leg_id)
                if leg.kind == "offer" and not leg.answered:
                    # Its agent channel, if the caller's Dial made one already, is hung up
                    # here (or dies with the caller's Dial); one made later is hung up when
                    # its ringing event finds no leg (leg_ringing).
                    self.legs.pop(leg.leg_id, None)
                if leg.channel:
                    await self.hangup(leg.channel)

    async def hangup(self, channel: str) -> None:
        try:
            await self._ami.send({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        except AmiActionError as exc:
            log.info("hangup of %s: %s", channel, exc)

    async def drain(self) -> None:
        """Wait for in-flight AMI work (used on shutdown and in tests); the offers' watchdogs,
        which only wait, are cancelled."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for watchdog in list(self._watchdogs):
            watchdog.cancel()
