"""The AMI connection: panoramisk underneath, with what a phone system needs on top.

- Reconnect with exponential back-off (panoramisk retries at a fixed interval), reset on login.
- Every action has a time-out; a failed or timed-out action raises :class:`AmiActionError`.
- Actions that must not be repeated blindly after a reconnect (Originate: it would ring an agent
  twice) are never replayed: their caller sees a time-out and decides.
- With a standby engine, an action is sent only while this engine holds the lease (the gate,
  hotline.app.leader): checked right before the bytes go out, against the local lease that ends a
  safety margin before Redis can grant it to the other engine. A decision taken under an older
  fencing token (DECISION_TOKEN, set where the ACD decides) is refused as stale.
- Events are parsed to typed objects (hotline.asterisk.ami.events) and handed to one async
  consumer through a queue, so a slow consumer never blocks the socket and a bad event never
  breaks it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message

from hotline.asterisk.ami.events import AmiEvent, MalformedEvent, parse_event

log = logging.getLogger(__name__)

# AMI is a line protocol: a CR or LF in a header ends it and starts another (a second action
# pasted into the first). Every other control character is refused too; nothing is escaped.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Actions panoramisk may replay after a reconnect; everything else fails over to our time-out.
_REPLAYABLE = frozenset({"getvar", "coreshowchannels", "corestatus", "status", "ping"})


class AmiActionError(Exception):
    """An AMI action failed, was refused or timed out."""


class NotLeading(AmiActionError):
    """This engine does not hold the lease (or the decision's token is stale): never sent."""


# The fencing token the current decision was taken under; asyncio tasks copy it when spawned,
# so an action sent later on behalf of that decision still carries it.
DECISION_TOKEN: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "DECISION_TOKEN", default=None
)


class UnsafeAction(AmiActionError):
    """An action with a control character (CR, LF, ...) in a header: never sent."""


def check_action(action: dict[str, Any]) -> None:
    """Raise :class:`UnsafeAction` unless every header name and value is free of control
    characters (a list value is one header per item, as panoramisk sends it)."""
    for key, value in action.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in (key, *values):
            if _CONTROL.search(str(item)):
                raise UnsafeAction(
                    f"{action.get('Action', '?')}: header {str(key)[:40]!r} holds a control "
                    "character; the action was not sent"
                )


class _BackoffManager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with exponential back-off and connection callbacks."""

    def __init__(self, owner: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self._owner = owner
        self.reconnect_timeout = owner.reconnect_min_s

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.exception() is not None:
            self._owner._note_failed_attempt(f.exception())
            self.reconnect_timeout = self._owner.next_backoff()
        super().connection_made(f)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok: bool = super().login(future)
        if ok:
            self._owner._on_login()
        else:
            log.error(
                "AMI login refused for user %s: check ami.username / ami.secret",
                self.config.get("username"),
            )
        return ok

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._on_lost()
        self.reconnect_timeout = self._owner.next_backoff()
        super().connection_lost(exc)


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        action_timeout_s: float = 10.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        queue_size: int = 10000,
    ) -> None:
        self.action_timeout_s = action_timeout_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self._clock = clock
        self._backoff = reconnect_min_s
        self._events: asyncio.Queue[AmiEvent | _Reconnected] = asyncio.Queue(maxsize=queue_size)
        self._resync_pending = False  # events were dropped: a resync is owed
        self._resync_queued = False  # one is in the queue, not yet handled: it covers any drop
        self.dropped_events = 0
        self.connected = asyncio.Event()
        self.logins = 0
        self.malformed_events = 0
        self.gate: Callable[[], int | None] | None = None
        """With a standby engine: the fencing token while this engine may act, else None."""
        self.refused_not_leading = 0
        self._manager = _BackoffManager(
            self,
            host=host,
            port=port,
            username=username,
            secret=secret,
            ping_delay=5,
            ping_interval=5,
            forgetable_actions=tuple(
                a
                for a in (
                    "ping",
                    "login",
                    "originate",
                    "hangup",
                    "userevent",
                    "redirect",
                    "bridge",
                    "setvar",
                    "command",
                )
            ),
        )
        self._manager.register_event("*", self._on_event)

    # -- connection ------------------------------------------------------
    async def start(self, wait_s: float | None = None) -> None:
        """Connect (retrying in the background); optionally wait until logged in."""
        self._manager.loop = asyncio.get_running_loop()
        self._manager.connect()
        if wait_s is not None:
            try:
                await asyncio.wait_for(self.connected.wait(), wait_s)
            except TimeoutError:
                raise AmiActionError(
                    f"could not log in to AMI at {self._manager.config['host']}:"
                    f"{self._manager.config['port']} within {wait_s:.0f} s"
                ) from None

    def close(self) -> None:
        self._manager.reconnect_timeout = 10**9  # no reconnect after an explicit close
        self._manager.close()
        self.connected.clear()

    def next_backoff(self) -> float:
        current = self._backoff
        self._backoff = min(self.reconnect_max_s, self._backoff * 2)
        return current

    def _note_failed_attempt(self, exc: BaseException | None) -> None:
        log.warning("AMI connect failed (%s); retrying in %.1f s", exc, self._backoff)

    def _on_login(self) -> None:
        self._backoff = self.reconnect_min_s
        self.logins += 1
        self.connected.set()
        log.info("AMI logged in (login #%d)", self.logins)
        # Every login, the first included, is followed by a reconciliation with Asterisk:
        # after our own restart callers may be waiting, after Asterisk's they are gone.
        self._put(_Reconnected(at=self._clock()))

    def _on_lost(self) -> None:
        if self.connected.is_set():
            log.error("AMI connection lost; reconnecting with back-off")
        self.connected.clear()

    # -- events ----------------------------------------------------------
    def _on_event(self, _manager: Any, message: Message) -> None:
        # Called inside panoramisk's data_received: it must never raise.
        try:
            event = parse_event(dict(message), self._clock())
        except MalformedEvent as exc:
            self.malformed_events += 1
            log.warning("ignoring malformed AMI event (%s): %r", exc, dict(message))
            return
        except Exception:  # a parser bug must not kill the AMI socket either
            self.malformed_events += 1
            log.exception("ignoring AMI event that could not be parsed: %r", dict(message))
            return
        if event is not None:
            self._put(event)

    def _put(self, item: AmiEvent | _Reconnected) -> None:
        if self._resync_pending and not self._put_resync():
            self.dropped_events += 1  # still full: a resync is owed already
            return
        try:
            self._events.put_nowait(item)
        except asyncio.QueueFull:
            # The consumer fell behind: what this event said is lost, so once the backlog is
            # handled the engine reads the state again from Asterisk (channels, agents' phones).
            self.dropped_events += 1
            if self._resync_queued:
                return
            self._resync_pending = True
            log.error("AMI event queue full: events dropped; resynchronising from Asterisk")

    def _put_resync(self) -> bool:
        try:
            self._events.put_nowait(Resynchronise(at=self._clock()))
        except asyncio.QueueFull:
            return False
        self._resync_pending = False
        self._resync_queued = True
        return True

    def backlog(self) -> int:
        """Events received and not yet taken up by the consumer."""
        return self._events.qsize()

    async def events(self) -> AsyncIterator[AmiEvent | _Reconnected]:
        while True:
            item = await self._events.get()
            if isinstance(item, Resynchronise):
                self._resync_queued = False  # it reads Asterisk's state from now on
            if self._resync_pending:  # room again: the resync goes right after the backlog
                self._put_resync()
            yield item

    # -- actions ---------------------------------------------------------
    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any:
        """Send an action; return panoramisk's response (a Message or a list of them)."""
        name = str(action.get("Action", "?"))
        check_action(action)  # here, so that no caller can forget it
        if not self.connected.is_set():
            raise AmiActionError(f"{name}: AMI is not connected")
        timeout = self.action_timeout_s if timeout_s is None else timeout_s
        token = self.fence(name)  # nothing awaited between this check and the write
        future = self._manager.send_action(action)
        if token is not None:
            log.debug("AMI action %s sent under token %d", name, token)
        try:
            response = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AmiActionError(
                f"{name}: no answer from Asterisk within {timeout:.1f} s"
            ) from None
        first = response[0] if isinstance(response, list) else response
        if not getattr(first, "success", False):
            raise AmiActionError(f"{name}: {first.get('Message', 'refused')}")
        return response

    def fence(self, name: str) -> int | None:
        """The token this action goes out under; NotLeading if it may not go out at all."""
        if self.gate is None:
            return None  # one engine, no lease
        token = self.gate()
        carried = DECISION_TOKEN.get()
        if token is None or (carried is not None and carried != token):
            self.refused_not_leading += 1
            why = "not leading" if token is None else f"stale token {carried} (now {token})"
            log.warning("AMI action %s refused: %s", name, why)
            raise NotLeading(f"{name}: {why}; the action was not sent")
        return token


class _Reconnected:
    """Marker put on the event stream after a re-login: state in Asterisk may have changed."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


Reconnected = _Reconnected


class Resynchronise(_Reconnected):
    """Put on the event stream after events were dropped (the queue was full): the consumer
    reconciles with Asterisk as after a re-login."""

    __slots__ = ()
