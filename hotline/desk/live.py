"""Live updates to the desktop's websockets, fed by the ACD's decisions (in-process).

The hub is an observer of the ACD service (``AcdService.observers``): it is called
synchronously with every decision and must never block or raise into the call path, so it
only queues work. Each socket has a bounded outbox drained by its own writer; a socket that
falls that far behind is closed (the page reconnects and gets the current state again).

* An agent's sockets get its state changes, the screen-pop when a call is offered to it (built
  while the phone rings: the IVR path from the call tracker, the recognised speech read from
  the caller's channel, the caller's open tickets), and "answered".
* The caller's sentence may be recognised after the pop went out (the default IVR flow queues
  the call as the greeting starts, so a free agent is rung before the caller has spoken): the
  pop is then completed with a ``pop_speech`` message (the page fills only the form fields the
  agent has not changed).
* Supervisors' sockets get the wallboard: at most every ``wallboard_min_s`` after a change, and
  every ``wallboard_every_s`` anyway (waits grow while nothing happens).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hotline.acd.events import AgentStateChanged, CallAbandoned, CallAnswered, OfferCall
from hotline.acd.service import AcdService
from hotline.base.web.sessions import Session
from hotline.desk.screenpop import ScreenPop, form_json, prefill, ticket_summary
from hotline.tickets.service import TicketService
from hotline.tickets.values import Viewer
from hotline.wallboard.rules import mask_number, wallboard

log = logging.getLogger(__name__)
OUTBOX = 256
SESSION_ENDED = (
    4401  # websocket close code: log-out, expiry, user disabled; the page goes to log in
)
SUPERVISING = frozenset({"supervisor", "admin"})


class Sender(Protocol):
    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> Any: ...


class AmiSender(Protocol):
    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any: ...


@dataclass(eq=False)
class Subscriber:
    session: Session
    socket: Sender
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(OUTBOX))

    def put(self, message: dict[str, Any]) -> bool:
        try:
            self.outbox.put_nowait(json.dumps(message, ensure_ascii=False, default=str))
            return True
        except asyncio.QueueFull:
            return False


class LiveHub:
    def __init__(
        self,
        acd: AcdService,
        tickets: TicketService,
        ami: AmiSender | None,
        status: Callable[[], dict[str, Any]],
        *,
        clock: Callable[[], float] = time.time,
        wallboard_min_s: float = 0.1,
        wallboard_every_s: float = 1.0,
    ) -> None:
        self._acd = acd
        self._tickets = tickets
        self._ami = ami
        self._status = status
        self._clock = clock
        self._min_s = wallboard_min_s
        self._every_s = wallboard_every_s
        self.subscribers: set[Subscriber] = set()
        self.pops: dict[str, dict[str, Any]] = {}  # agent id -> its latest pop
        self.recent: deque[dict[str, Any]] = deque(maxlen=20)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wallboard_due = False
        self.on_tick: list[Callable[[], None]] = []  # run every wallboard_every_s (samplers)

    # -- subscribers -----------------------------------------------------------------------
    def add(self, sub: Subscriber) -> None:
        self.subscribers.add(sub)
        if sub.session.agent_id:
            sub.put(self.agent_state(sub.session.agent_id))
            pop = self.pops.get(sub.session.agent_id)
            if pop is not None:
                sub.put(pop)
        if sub.session.role in SUPERVISING:
            sub.put(self.wallboard())

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def close_session(self, sid: str) -> int:
        """Close at once every socket of this session (it ended); how many there were."""
        ended = [sub for sub in self.subscribers if sub.session.sid == sid]
        for sub in ended:
            self.subscribers.discard(sub)
            self._spawn(sub.socket.close(code=SESSION_ENDED, message=b"session ended"))
        return len(ended)

    async def pump(self, sub: Subscriber) -> None:
        """Send the subscriber's outbox until the socket closes (run as its writer task)."""
        while True:
            message = await sub.outbox.get()
            await sub.socket.send_str(message)

    def to_agent(self, agent_id: str, message: dict[str, Any]) -> None:
        """Send to every desktop the agent has open (e.g. the three-way call's progress)."""
        self._to_agent(agent_id, message)

    def _to_agent(self, agent_id: str, message: dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            if sub.session.agent_id == agent_id:
                self._put(sub, message)

    def _to_supervisors(self, message: dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            if sub.session.role in SUPERVISING:
                self._put(sub, message)

    def _put(self, sub: Subscriber, message: dict[str, Any]) -> None:
        if not sub.put(message):
            log.warning("desktop socket of %s too slow; closing it", sub.session.user)
            self.subscribers.discard(sub)
            self._spawn(sub.socket.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- views -----------------------------------------------------------------------------
    def agent_state(self, agent_id: str) -> dict[str, Any]:
        view = self._acd.acd.agent(agent_id)
        if view is None:
            return {"type": "state", "agent_id": agent_id, "state": "logged_out", "reason": ""}
        return {
            "type": "state",
            "agent_id": agent_id,
            "state": str(view.state),
            "reason": view.reason,
            "call_id": view.call_id,
            "seat": view.seat,
            "after_call": view.after_call,  # not ready after this call, with this reason
            # The page's call timer and wrap-up countdown: since when, by the engine's clock
            # (sent with it, so a browser clock that is off does not matter).
            "since": view.since,
            "now": self._clock(),
            "wrapup_s": self._acd.acd.policy.wrapup_s,
        }

    def wallboard(self) -> dict[str, Any]:
        status = self._status()
        # The calls agents are talking on: answered, not yet in today's records.
        talking = {}
        for agent in status.get("agents", []):
            call_id = getattr(agent, "call_id", None)
            if str(getattr(agent, "state", "")) == "on_call" and call_id:
                call = self._acd.tracker.calls.get(call_id)
                talking[call_id] = call.skill if call is not None else ""
        board = wallboard(status, self._clock(), talking)
        board["recent"] = list(self.recent)
        return board

    # -- decisions in ----------------------------------------------------------------------
    def observe(self, decision: Any) -> None:
        """ACD observer: called synchronously for every decision; never blocks."""
        if isinstance(decision, AgentStateChanged):
            self._to_agent(decision.agent_id, self.agent_state(decision.agent_id))
        elif isinstance(decision, OfferCall):
            self._note("offered", decision.call_id, decision.agent_id)
            self._spawn(self._pop(decision, self._clock()))
        elif isinstance(decision, CallAnswered):
            self._note("answered", decision.call_id, decision.agent_id)
            self._to_agent(
                decision.agent_id,
                {"type": "answered", "call_id": decision.call_id, "at": decision.at},
            )
        elif isinstance(decision, CallAbandoned):
            self._note("abandoned", decision.call_id, None)
        self._wallboard_soon()

    def speech_heard(self, call_id: str, text: str, subject: str, category: str) -> None:
        """The IVR recognised what the caller said: complete a pop already shown for the call."""
        for agent_id, pop in list(self.pops.items()):
            if pop.get("call_id") != call_id:
                continue
            path = f"{pop.get('ivr_path', '')}>speech:{subject}/{category}"
            subjects = self._tickets.settings.subjects.names
            form = prefill(path, str(pop.get("skill", "")), text, pop["caller"], subjects)
            update = {"speech_text": text, "form": {**pop["form"], **form_json(form)}}
            self.pops[agent_id] = {**pop, **update}
            self._to_agent(agent_id, {"type": "pop_speech", "call_id": call_id, **update})

    def _note(self, kind: str, call_id: str, agent_id: str | None) -> None:
        call = self._acd.tracker.calls.get(call_id)
        # Masked: the recent events are for the wall (mask_number), not the full number.
        caller = mask_number(call.caller) if call is not None else ""
        self.recent.appendleft(
            {"kind": kind, "call_id": call_id, "caller": caller, "agent_id": agent_id,
             "at": self._clock()}
        )  # fmt: skip

    def _wallboard_soon(self) -> None:
        if self._wallboard_due or not any(s.session.role in SUPERVISING for s in self.subscribers):
            return
        self._wallboard_due = True

        async def later() -> None:
            await asyncio.sleep(self._min_s)
            self._wallboard_due = False
            self._to_supervisors(self.wallboard())

        self._spawn(later())

    async def run(self) -> None:
        """Refresh the wallboards every ``wallboard_every_s`` (waits grow between events)."""
        while True:
            await asyncio.sleep(self._every_s)
            for hook in self.on_tick:
                try:
                    hook()
                except Exception:  # a sampler's fault must not stop the refreshes
                    log.exception("desktop tick hook failed")
            if any(s.session.role in SUPERVISING for s in self.subscribers):
                try:
                    self._to_supervisors(self.wallboard())
                except Exception:  # a bad figure must not stop the refreshes
                    log.exception("wallboard refresh failed")

    # -- the screen-pop --------------------------------------------------------------------
    async def _speech_text(self, channel: str, heard: str = "") -> str:
        if heard or self._ami is None or not channel:
            return heard
        try:
            response = await self._ami.send(
                {"Action": "Getvar", "Channel": channel, "Variable": "HOTLINE_SPEECH_TEXT"},
                timeout_s=1.0,
            )
        except Exception as exc:  # the pop goes out without the speech rather than not at all
            log.info("speech text of %s not read: %s", channel, exc)
            return ""
        first = response[0] if isinstance(response, list) else response
        value = str(first.get("Value", "") or "")
        return "" if value == "(null)" else value

    async def _pop(self, offer: OfferCall, offered_at: float) -> None:
        call = self._acd.tracker.calls.get(offer.call_id)
        ivr_path = call.ivr_path if call is not None else ""
        skill = call.skill if call is not None else ""
        caller = offer.caller or (call.caller if call is not None else "")
        # The tracker has the transcript when the IVR's HotlineSpeech event came in; the
        # channel's HOTLINE_SPEECH_TEXT covers an engine that restarted since.
        heard = call.speech_text if call is not None else ""
        speech_task = asyncio.ensure_future(self._speech_text(offer.channel, heard))
        try:
            check = await asyncio.to_thread(self._tickets.repeat_check, caller, Viewer("agent"))
            repeat, earlier = check.repeat, tuple(ticket_summary(t) for t in check.tickets)
        except Exception as exc:  # the ticket store may be away: pop without the history
            log.warning("repeat check for %s failed: %s", caller, exc)
            repeat, earlier = False, ()
        speech = await speech_task
        subjects = self._tickets.settings.subjects.names
        pop = ScreenPop(
            call_id=offer.call_id,
            agent_id=offer.agent_id,
            caller=caller,
            ivr_path=ivr_path,
            skill=skill,
            speech_text=speech,
            repeat=repeat,
            earlier=earlier,
            form=prefill(ivr_path, skill, speech, caller, subjects),
            offered_at=offered_at,
            extra={"sent_at": self._clock()},
        ).to_json()
        self.pops[offer.agent_id] = pop
        self._to_agent(offer.agent_id, pop)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
