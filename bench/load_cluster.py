"""The cluster side of the load bench (``python -m bench.load --topology one,two``).

The edge (Kamailio) and two Asterisk nodes, each in its own network namespace
(``hl<slot>-la``, ``hl<slot>-lb``, addresses ``10.<200+slot>.11.x`` and ``.12.x``, apart from
the cluster tests' ``.1.x``/``.2.x`` of the same slot), one engine over both. The agents'
phones register at the edge and the carrier calls through its dispatcher, so both topologies
take the same path; "one" is node a alone (node b's Asterisk stopped: the edge's probes take
it out of the rotation), "two" is both. Switching per step (not per run) puts the two
topologies side by side in time on a machine whose other load changes.
"""

from __future__ import annotations

import asyncio
import os
import time

from bench.support_asterisk import AmiDriver, BenchSetupError, EngineProcess
from hotline.base.settings import Config
from hotline.cluster import netns
from hotline.cluster.local import LocalCluster

SLOT = int(os.environ.get("HOTLINE_TEST_SLOT", "0"))
NET = f"10.{200 + SLOT}"
NETS = {
    name: netns.NodeNet(f"hl{SLOT}-l{name}", f"{NET}.{10 + i}.1", f"{NET}.{10 + i}.2")
    for i, name in enumerate(("a", "b"), start=1)
}
EDGE = NETS["a"].host_address  # the host's end of node a's pair: every node routes to it
TOPOLOGIES = {"one": 1, "two": 2}
# The loopback ports (HTTP, Redis, MQTT) move by this much on top of the one-node bench's, so
# a cluster run of any slot runs beside a one-node run.
PORT_SHIFT = (SLOT + 1) * 100


def cluster_toml(ami_port: int, sip_port: int) -> str:
    """The edge, the nodes and how soon a silent node's calls end (after the agents)."""
    nodes = "".join(
        f'\n[[nodes]]\nname = "{name}"\naddress = "{net.node_address}"\n'
        f'engine_address = "{net.host_address}"\nnetns = "{net.netns}"\nami_port = {ami_port}\n'
        for name, net in NETS.items()
    )
    return (
        f'\n[edge]\nlisten = "{EDGE}"\nport = {sip_port + 10}\n'
        "\n[cluster]\nnode_lost_after_s = 2.0\n" + nodes
    )


class ClusterNodes:
    """The namespaces, the edge and the nodes of one load run; :meth:`use` keeps the first n
    nodes running and the others stopped."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.local = LocalCluster(cfg)
        self.up: list[str] = []
        self.drivers: dict[str, AmiDriver] = {}  # the bench's AMI login on each running node

    @property
    def target(self) -> str:
        return f"{self.cfg.edge.listen}:{self.cfg.edge.port}"

    @property
    def local_ip(self) -> str:
        """The phones' and the carrier's address: the nodes reach the host there."""
        return self.cfg.edge.listen

    def start(self) -> None:
        try:
            self.local.start()
        except Exception as exc:
            raise BenchSetupError(
                f"the cluster did not start ({type(exc).__name__}): {exc}"
            ) from None
        self.up = list(self.local.nodes)

    def stop(self) -> None:
        self.close_drivers()
        self.local.stop()
        self.up = []

    def close_drivers(self) -> None:
        for driver in self.drivers.values():
            driver.close()
        self.drivers.clear()

    async def use(self, topology: str, engine: EngineProcess) -> None:
        """The first ``TOPOLOGIES[topology]`` nodes up, the rest stopped; back once the
        engine is on exactly those nodes' AMI and the edge has probed them."""
        names = list(self.local.nodes)
        want = names[: TOPOLOGIES[topology]]
        changed = False
        for name in [n for n in self.up if n not in want]:
            if name in self.drivers:
                self.drivers.pop(name).close()
            await asyncio.to_thread(self.local.nodes[name].stop)
            self.up.remove(name)
            changed = True
        for name in [n for n in want if n not in self.up]:
            try:
                await asyncio.to_thread(self.local.nodes[name].start)
            except Exception as exc:
                raise BenchSetupError(f"node {name} did not start again: {exc}") from None
            self.up.append(name)
            changed = True
        expected = {name: name in want for name in names}
        deadline = time.monotonic() + 60
        while (await asyncio.to_thread(engine.status)).get("nodes") != expected:
            if time.monotonic() > deadline:
                raise BenchSetupError(f"engine: not on the AMI of exactly {want} within 60 s")
            await asyncio.sleep(0.5)
        for name in want:
            if name not in self.drivers:
                driver = AmiDriver(self.local.nodes[name].cfg)  # the node's own view
                await driver.connect()
                self.drivers[name] = driver
        if changed:
            # The edge's OPTIONS probes: a node that answers is back in the rotation after one
            # interval; one that does not is out after an interval and a probe timeout. Kamailio
            # is not asked (no control socket), so this waits the longer of the two, twice.
            e = self.cfg.edge
            await asyncio.sleep(2 * (e.ping_interval_s + e.probe_timeout_ms / 1000))

    async def channels(self) -> list[str]:
        names = []
        for driver in self.drivers.values():
            names += [str(c.get("Channel", "")) for c in await driver.channels()]
        return names

    def parts(self) -> dict[str, list[int]]:
        """Each running node's Asterisk and the edge's processes, by name."""
        parts = {
            f"Asterisk {name}": [pid]
            for name in self.up
            if (pid := self.local.nodes[name].pid()) is not None
        }
        parts["edge"] = self.local.edge.pids()
        return parts
