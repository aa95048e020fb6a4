"""The live ACD: feeds the sans-I/O core, saves its state, carries out its decisions over AMI.

One lock serialises events into the core, so decisions follow the exact order events arrived.
After every event the core's snapshot (plus the agent legs we rang) goes to Redis; a restarted
engine loads it and reconciles with the channels Asterisk still has.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from acd.ami.client import AmiActionError, AmiClient
from acd.calltracker import CallTracker
from acd.core import Acd, AcdError
from acd.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallerHungUp,
    CancelOffer,
    OfferCall,
    OfferFailed,
)
from acd.notifier import AcdNotifier
from acd.state import RedisAcdStore

log = logging.getLogger(__name__)


@dataclass
class AgentLeg:
    """A call we placed to an agent's phone for a waiting caller."""

    leg_id: str
    call_id: str
    agent_id: str
    answered: bool = False


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
    ) -> None:
        self.acd = acd
        self._ami = ami
        self._store = store
        self._notifier = notifier
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
        self.acd = Acd.restore(data["acd"], self.acd.policy)
        self.legs = {k: AgentLeg(**v) for k, v in data.get("legs", {}).items()}
        self.tracker.calls = {k: CallTracker.from_json(v) for k, v in data.get("calls", {}).items()}

    async def save(self) -> None:
        await self._save()

    async def _save(self) -> None:
        """Save the latest state; saves requested while one is running coalesce into one.

        Under load a save per event would cost more than the events (the snapshot grows with
        the queue); the state written is always the newest, and a restarted engine reconciles
        whatever the last save missed with the channels Asterisk still holds.
        """
        self._dirty = True
        if self._saving:
            return
        self._saving = True
        try:
            while self._dirty:
                self._dirty = False
                try:
                    await self._store.save(self.snapshot())
                except Exception as exc:  # Redis away: serve from memory, save on the next event
                    log.error("could not save ACD state to Redis: %s", exc)
                    break
        finally:
            self._saving = False

    # -- events in -------------------------------------------------------
    async def handle(self, event: Any) -> list[Any]:
        """Feed one core event; raises AcdError (nothing changed) if it does not fit."""
        async with self._lock:
            decisions = self.acd.handle(event)
            if isinstance(event, CallEnded | CallerHungUp):
                self._forget_legs(event)
        await self._save()  # outside the lock: events never wait for Redis
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
        return self.legs.get(leg_id)

    async def leg_answered(self, leg_id: str, call_id: str, agent_id: str) -> None:
        async with self._lock:
            leg = self.legs.get(leg_id)
            if leg is None:  # e.g. answered just after a restart lost the originate
                self.legs[leg_id] = AgentLeg(leg_id, call_id, agent_id, answered=True)
            else:
                leg.answered = True

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

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ring_agent(self, offer: OfferCall) -> None:
        leg_id = f"hl-{uuid.uuid4().hex[:20]}"
        self.legs[leg_id] = AgentLeg(leg_id, offer.call_id, offer.agent_id)
        await self._save()
        self._notifier.call_offered(offer)
        caller = offer.caller or "12345"
        action = {
            "Action": "Originate",
            "Channel": offer.seat,
            "Context": "hotline-agent-connect",
            "Exten": "s",
            "Priority": "1",
            "Timeout": str(int(offer.ring_timeout_s * 1000)),
            "CallerID": f'"{caller}" <{caller}>',
            "ChannelId": leg_id,
            "Async": "true",
            "Variable": [
                f"HOTLINE_CALL={offer.call_id}",
                f"HOTLINE_CALL_CHANNEL={offer.channel}",
                f"HOTLINE_AGENT={offer.agent_id}",
            ],
        }
        reason = ""
        try:
            response = await self._ami.send(
                action, timeout_s=offer.ring_timeout_s + self._action_timeout_s
            )
            final = response[-1] if isinstance(response, list) else response
            if str(final.get("Response", "")).lower() != "success":
                reason = f"no answer (reason {final.get('Reason', '?')})"
        except AmiActionError as exc:
            reason = str(exc)
        if reason:
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

    async def _cancel(self, cancel: CancelOffer) -> None:
        for leg in list(self.legs.values()):
            if leg.call_id == cancel.call_id and leg.agent_id == cancel.agent_id:
                await self.hangup(leg.leg_id)

    async def hangup(self, channel: str) -> None:
        try:
            await self._ami.send({"Action": "Hangup", "Channel": channel, "Cause": "16"})
        except AmiActionError as exc:
            log.info("hangup of %s: %s", channel, exc)

    async def drain(self) -> None:
        """Wait for in-flight AMI work (used on shutdown and in tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
