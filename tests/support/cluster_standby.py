"""Two engines over the test cluster (tests/support/cluster.py), started as `hotline up
--cluster` starts its two (``engine --cluster-engine a|b``, hotline/cluster/local.py), and the
tests' own AMI login on every node, its events stamped on receipt so the legs Asterisk rang
for each agent can be laid on one time line."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotline.cluster.local import ENGINE_TAGS, engine_pair
from tests.conftest import EngineProcess, HotlineSetup
from tests.support.calls import AmiTestClient
from tests.support.cluster import Cluster


def cluster_engines(cluster: Cluster, name: str) -> tuple[EngineProcess, EngineProcess]:
    """Engines a and b of the cluster's configuration, each its own process."""
    setups = (HotlineSetup(c, cluster.setup.path, cluster.setup.state_dir)
              for c in engine_pair(cluster.cfg))  # fmt: skip
    a, b = (
        EngineProcess(setup, f"{name}-{tag}", ("--cluster-engine", tag))
        for tag, setup in zip(ENGINE_TAGS, setups, strict=True)
    )
    return a, b


def leads_both(status: dict[str, Any]) -> bool:
    """The leader, logged in to both nodes' AMI."""
    nodes = status.get("nodes") or {}
    role = (status.get("cluster") or {}).get("role")
    return role == "leader" and len(nodes) == 2 and all(nodes.values())


async def until(
    engine: EngineProcess, pred: Callable[[dict[str, Any]], Any], timeout: float, what: str
) -> dict[str, Any]:
    """The engine's status once ``pred`` holds (polled without blocking the event loop, so
    the AMI and MQTT clients of the test keep taking events meanwhile)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = await asyncio.to_thread(engine.status)
            if pred(last):
                return last
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}; last status: {last.get('cluster')}")


@dataclass
class NodeWatch:
    """The tests' AMI login on each node (call ids name the node: ``a-...``, ``b-...``)."""

    clients: dict[str, AmiTestClient]
    stamped: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    async def connect(cls, cluster: Cluster) -> NodeWatch:
        watch = cls({name: AmiTestClient(node.cfg) for name, node in cluster.nodes.items()})
        for name, client in watch.clients.items():
            await client.connect()
            assert client.manager is not None
            client.manager.register_event(
                "*", lambda _m, ev, n=name: watch.stamped.append((time.time(), n, dict(ev)))
            )
        return watch

    async def hangup(self, call_id: str, channel: str) -> None:
        await self.clients[call_id.split("-", 1)[0]].hangup(channel)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def agent_legs(self) -> dict[str, list[tuple[float, float, str]]]:
        """Per agent, (rung at, ended at, node:leg) for every leg the engines rang: the agent
        channels the callers' Dials made, each named with its agent by the dialplan's
        HotlineAgentRinging (its Uniqueid is the channel's)."""
        agent_of: dict[str, str] = {}
        for _at, node, ev in self.stamped:
            if (
                ev.get("Event") == "UserEvent"
                and _last(ev.get("UserEvent")) == "HotlineAgentRinging"
            ):
                agent_of[f"{node}:{_last(ev.get('Uniqueid'))}"] = str(_last(ev.get("Agent")))
        opened: dict[str, float] = {}
        closed: dict[str, float] = {}
        for at, node, ev in self.stamped:
            key = f"{node}:{_last(ev.get('Uniqueid', ''))}"
            if key not in agent_of:
                continue
            kind = ev.get("Event")
            if kind == "Newchannel":
                opened.setdefault(key, at)
            elif kind == "Hangup":
                closed[key] = at
        legs: dict[str, list[tuple[float, float, str]]] = {}
        for key, at in opened.items():
            legs.setdefault(agent_of[key], []).append((at, closed.get(key, float("inf")), key))
        return {agent: sorted(rows) for agent, rows in legs.items()}


def _last(value: Any) -> str:
    """A header our UserEvent repeats after the channel's (a list): the last value."""
    return str(value[-1] if isinstance(value, list) and value else value)


def overlapping_legs(legs: dict[str, list[tuple[float, float, str]]]) -> list[str]:
    """Each agent's legs that Asterisk had up at the same time (an agent offered two calls)."""
    found = []
    for agent, rows in legs.items():
        for (_at, end, key), (nxt, _end, key2) in itertools.pairwise(rows):
            if nxt < end:
                found.append(f"agent {agent}: {key2} rung before {key} ended")
    return found
