"""One AMI client per Asterisk node behind the interface of one (AmiClient's): the engine's
parts send actions and read events as with one Asterisk, and this routes them.

Rules:
- Call ids are Asterisk Uniqueids, which each node prefixes with its systemname
  (``b-1733551234.17``): they are unique across nodes and name their node (:func:`node_of`).
- An action goes to the node of the call it is about: the ``HOTLINE_CALL`` (or
  ``HOTLINE_CONF``, ``hl3-<call id>``) variable of an Originate (the agent leg rings on the
  CALLER's node, through the edge; a supervisor's listen/whisper/barge and a three-way
  call's department line too), a call id or an ACD leg id it names, else the node where the
  channel it names was last seen; an explicit ``node=`` wins. An action that names nothing
  known goes to the first node logged in.
- Events of every node come out of one stream; a node's re-login (or its FullyBooted) is a
  ``Reconnected`` with its name (the consumer reconciles that node only), and a node away
  longer than ``node_lost_after_s`` is a ``NodeLost`` (its calls end: they are gone with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from hotline.asterisk.ami.client import AmiActionError, AmiClient, NodeLost, Reconnected
from hotline.asterisk.ami.events import AmiEvent, AsteriskBooted, ChannelCreated, ChannelHungUp

log = logging.getLogger(__name__)

_NODE_ID = re.compile(r"(?P<node>[a-z][a-z0-9]{0,15})-[0-9]+\.[0-9]+")


def node_of(call_id: str) -> str:
    """The node a call id (an Asterisk Uniqueid) was made on; "" for one Asterisk's ids."""
    m = _NODE_ID.fullmatch(call_id)
    return m.group("node") if m else ""


class ClusterAmi:
    def __init__(
        self,
        clients: dict[str, AmiClient],
        *,
        node_lost_after_s: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not clients:
            raise ValueError("a cluster needs at least one node")
        self.clients = clients
        self._lost_after_s = node_lost_after_s
        self._clock = clock
        self._events: asyncio.Queue[AmiEvent | Reconnected] = asyncio.Queue(maxsize=20000)
        self._channel_node: dict[str, str] = {}  # channel name or leg id -> node
        self._tasks: list[asyncio.Task[Any]] = []
        self.connected = asyncio.Event()  # at least one node logged in
        self.lost: set[str] = set()  # nodes given up (NodeLost sent, not back yet)

    # -- what AmiClient offers ---------------------------------------------
    @property
    def malformed_events(self) -> int:
        return sum(c.malformed_events for c in self.clients.values())

    @property
    def dropped_events(self) -> int:
        return sum(c.dropped_events for c in self.clients.values())

    @property
    def gate(self) -> Callable[[], int | None] | None:
        """The standby engine's lease check, on every node's client (only the leader acts)."""
        return next(iter(self.clients.values())).gate

    @gate.setter
    def gate(self, gate: Callable[[], int | None] | None) -> None:
        for client in self.clients.values():
            client.gate = gate

    @property
    def refused_not_leading(self) -> int:
        return sum(c.refused_not_leading for c in self.clients.values())

    def backlog(self) -> int:
        return self._events.qsize() + sum(c.backlog() for c in self.clients.values())

    def nodes_connected(self) -> dict[str, bool]:
        return {name: c.connected.is_set() for name, c in self.clients.items()}

    async def start(self, wait_s: float | None = None) -> None:
        for name, client in self.clients.items():
            await client.start()
            self._tasks.append(asyncio.ensure_future(self._pump(name, client)))
            self._tasks.append(asyncio.ensure_future(self._watch(name, client)))
        if wait_s is not None:
            try:
                await asyncio.wait_for(self.connected.wait(), wait_s)
            except TimeoutError:
                raise AmiActionError(f"no node's AMI logged in within {wait_s:.0f} s") from None

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for client in self.clients.values():
            client.close()
        self.connected.clear()

    async def events(self) -> AsyncIterator[AmiEvent | Reconnected]:
        while True:
            yield await self._events.get()

    async def send(
        self, action: dict[str, Any], timeout_s: float | None = None, node: str | None = None
    ) -> Any:
        target = node or self.route(action)
        client = self.clients.get(target)
        if client is None:
            raise AmiActionError(f"{action.get('Action', '?')}: no node {target!r}")
        leg = str(action.get("ChannelId", ""))
        if leg:
            self._channel_node[leg] = target
        return await client.send(action, timeout_s)

    # -- routing -------------------------------------------------------------
    def route(self, action: dict[str, Any]) -> str:
        """The node an action is about (see the module's rules)."""
        variables = action.get("Variable", [])
        values = variables if isinstance(variables, list) else [variables]
        for item in values:  # Originate: the caller's node (a conference is hl3-<call id>)
            name, _, value = str(item).partition("=")
            if name == "HOTLINE_CONF":
                value = value.removeprefix("hl3-")
            if name in ("HOTLINE_CALL", "HOTLINE_CONF") and node_of(value):
                return node_of(value)
        for key in ("Channel", "ExtraChannel"):
            found = self._node_of_channel(str(action.get(key, "")))
            if found:
                return found
        for item in values:
            found = self._node_of_channel(str(item).partition("=")[2])
            if found:
                return found
        for name, client in self.clients.items():
            if client.connected.is_set():
                return name
        return next(iter(self.clients))

    def _node_of_channel(self, channel: str) -> str:
        if not channel:
            return ""
        return node_of(channel) or self._channel_node.get(channel, "")

    # -- per node --------------------------------------------------------------
    async def _pump(self, name: str, client: AmiClient) -> None:
        async for item in client.events():
            event: AmiEvent | Reconnected = item
            if isinstance(event, AsteriskBooted):
                # A node (re)booted: reconcile that node only, never the others' calls
                # against its channels.
                event = Reconnected(at=event.at, node=name)
            if isinstance(event, Reconnected):
                event.node = name
                if name in self.lost:
                    log.warning("node %s is back", name)
                    self.lost.discard(name)
            elif isinstance(event, ChannelCreated):
                self._channel_node[event.channel] = name
            elif isinstance(event, ChannelHungUp):
                if self._channel_node.get(event.channel) == name:
                    self._channel_node.pop(event.channel, None)
                self._channel_node.pop(event.unique_id, None)
            await self._events.put(event)

    async def _watch(self, name: str, client: AmiClient, every_s: float = 0.2) -> None:
        """Keeps ``connected`` (any node) and says ``NodeLost`` when a node stays away."""
        away_since: float | None = None
        while True:
            if client.connected.is_set():
                away_since = None
            elif away_since is None:
                away_since = time.monotonic()
            elif time.monotonic() - away_since >= self._lost_after_s and name not in self.lost:
                log.error(
                    "node %s: AMI away for %.1f s; its calls are lost", name, self._lost_after_s
                )
                self.lost.add(name)
                with contextlib.suppress(asyncio.QueueFull):
                    self._events.put_nowait(NodeLost(at=self._clock(), node=name))
            if any(c.connected.is_set() for c in self.clients.values()):
                self.connected.set()
            else:
                self.connected.clear()
            await asyncio.sleep(every_s)
