"""A cluster on this machine for the tests: two Asterisk nodes, each in its own network
namespace (hl<slot>-a, hl<slot>-b) with its own address, the edge (Kamailio) on the host's
end of node a's veth pair, and sipp as the carrier and as agents' phones.

Real parts only: a part that cannot start FAILS the test saying why."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk.instance import ManagedAsterisk
from hotline.base.secrets import sip_password
from hotline.base.settings import Config, load_config
from hotline.cluster import netns
from hotline.cluster.nodes import node_config
from hotline.edge.instance import ManagedKamailio
from tests.conftest import PORTS, SLOT, HotlineSetup, config_toml

SIPP_DIR = Path(__file__).resolve().parents[1] / "data" / "sipp"
NET = f"10.{200 + SLOT}"
NODES = {"a": f"hl{SLOT}-a", "b": f"hl{SLOT}-b"}
NETS = {
    name: netns.NodeNet(ns, f"{NET}.{i}.1", f"{NET}.{i}.2")
    for i, (name, ns) in enumerate(NODES.items(), start=1)
}
EDGE = NETS["a"].host_address  # the host's end of node a's pair: every node routes to it
EDGE_PORT = PORTS["sip"] + 10
AGENTS = ("2001", "2002")
UAS_PORT = {agent: PORTS["sip"] + 20 + i for i, agent in enumerate(AGENTS)}
CARRIER_PORT = PORTS["sip"] + 30
# Only the carrier's ports may send calls in through the edge ([edge] carriers); the
# carrier's gateway for calls out (department lines, callbacks) is a sipp that answers.
CARRIERS = [f"{EDGE}:{CARRIER_PORT + i}" for i in range(10)]
PSTN_PORT = PORTS["sip"] + 40
NOT_A_CARRIER_PORT = PORTS["sip"] + 50


def cluster_toml(state_dir: Path, db_url: str) -> str:
    base = config_toml(state_dir, db_url).replace('flow = "menu"', 'flow = "direct"')
    base = base[: base.index("[[agents]]")]
    nodes = "".join(
        f'\n[[nodes]]\nname = "{name}"\naddress = "{net.node_address}"\n'
        f'engine_address = "{net.host_address}"\nnetns = "{net.netns}"\n'
        f"ami_port = {PORTS['ami']}\n"
        for name, net in NETS.items()
    )
    agents = "".join(
        f'\n[[agents]]\nid = "{a}"\nname = "Edge agent {a}"\nsip_password = "generate"\n'
        "skills = { general = 1 }\n"
        for a in AGENTS
    )
    return (
        base
        + f'\n[edge]\nlisten = "{EDGE}"\nport = {EDGE_PORT}\n'
        + f'carriers = {CARRIERS!r}\noutbound = "{EDGE}:{PSTN_PORT}"\n'
        + "\n[cluster]\nnode_lost_after_s = 2.0\n"
        + nodes
        + agents
    )


@dataclass
class Cluster:
    setup: HotlineSetup
    edge: ManagedKamailio
    nodes: dict[str, ManagedAsterisk]
    phones: list[subprocess.Popen[bytes]] = field(default_factory=list)
    carriers: int = 0  # each carrier sipp gets its own ports (one may still run)

    @property
    def cfg(self) -> Config:
        return self.setup.cfg

    def sipp(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        sipp = shutil.which("sipp")
        assert sipp is not None, "sipp is not installed (Debian package sip-tester)"
        return subprocess.run(
            [sipp, *args, "-nostdin", "-trace_err"],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(self.setup.state_dir),
        )

    def start_phone(self, agent: str) -> None:
        """The agent's phone: a sipp UAS that answers, registered at the edge."""
        sipp = shutil.which("sipp")
        assert sipp is not None, "sipp is not installed (Debian package sip-tester)"
        log = open(self.setup.state_dir / f"phone-{agent}.log", "ab")
        self.phones.append(
            subprocess.Popen(
                [sipp, "-sf", str(SIPP_DIR / "agent-uas.xml"), "-i", EDGE,
                 "-p", str(UAS_PORT[agent]), "-mi", EDGE, "-mp", str(UAS_PORT[agent] + 400),
                 "-nostdin", "-trace_err"],
                stdout=log, stderr=subprocess.STDOUT, cwd=str(self.setup.state_dir),
            )
        )  # fmt: skip
        password = sip_password(self.cfg.paths.state_dir, agent, "generate")
        reg = self.sipp(
            f"{EDGE}:{EDGE_PORT}", "-sf", str(SIPP_DIR / "agent-register.xml"),
            "-i", EDGE, "-p", str(UAS_PORT[agent] + 100), "-s", agent,
            "-au", agent, "-ap", password, "-key", "uas_port", str(UAS_PORT[agent]),
            "-m", "1", "-timeout", "10s", "-timeout_error",
        )  # fmt: skip
        assert reg.returncode == 0, f"agent {agent} did not register at the edge:\n{reg.stdout}"

    def calls(
        self,
        count: int,
        talk_ms: int,
        rate: int = 1,
        timeout: float = 90,
        scenario: str = "carrier-edge-uac.xml",
    ) -> Any:
        """The carrier: ``count`` calls to 12345 through the edge (sipp, in the background);
        ``scenario`` another caller (carrier-edge-talk-uac.xml: one who talks)."""
        sipp = shutil.which("sipp")
        assert sipp is not None, "sipp is not installed (Debian package sip-tester)"
        self.carriers += 1
        port = CARRIER_PORT + self.carriers % 10
        return subprocess.Popen(
            [sipp, f"{EDGE}:{EDGE_PORT}", "-sf", str(SIPP_DIR / scenario),
             "-i", EDGE, "-p", str(port), "-mi", EDGE, "-mp", str(port + 600),
             "-m", str(count), "-r", str(rate), "-d", str(talk_ms),
             "-timeout", f"{int(timeout)}s", "-nostdin", "-trace_err"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(self.setup.state_dir),
        )  # fmt: skip

    def start_pstn(self) -> Path:
        """The carrier's side of calls out through the edge (department lines, callbacks): a
        sipp that answers every call; returns the file its SIP messages are traced to."""
        sipp = shutil.which("sipp")
        assert sipp is not None, "sipp is not installed (Debian package sip-tester)"
        trace = self.setup.state_dir / "pstn-messages.log"
        log = open(self.setup.state_dir / "pstn.log", "ab")
        self.phones.append(
            subprocess.Popen(
                [sipp, "-sf", str(SIPP_DIR / "agent-uas.xml"), "-i", EDGE, "-p", str(PSTN_PORT),
                 "-mi", EDGE, "-mp", str(PSTN_PORT + 400), "-trace_msg", "-message_file",
                 str(trace), "-nostdin", "-trace_err"],
                stdout=log, stderr=subprocess.STDOUT, cwd=str(self.setup.state_dir),
            )
        )  # fmt: skip
        return trace

    def stop_phones(self) -> None:
        for proc in self.phones:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.phones.clear()


def start_cluster(hotline_setup: HotlineSetup, tmp: Path) -> Iterator[Cluster]:
    """Namespaces, the two nodes and the edge; all of it removed afterwards."""
    path = tmp / "cluster.toml"
    path.write_text(
        cluster_toml(hotline_setup.state_dir, f"sqlite:///{tmp / 'cluster.db'}"), encoding="utf-8"
    )
    cfg = load_config(path, environ={})
    setup = HotlineSetup(cfg=cfg, path=path, state_dir=hotline_setup.state_dir)
    nodes = {n.name: ManagedAsterisk(node_config(cfg, n)) for n in cfg.nodes}
    edge = ManagedKamailio(cfg)
    cluster = Cluster(setup, edge, nodes)
    try:
        for net in NETS.values():
            netns.create(net)
        edge.start()
        for node in nodes.values():
            node.start()
    except Exception as exc:
        _teardown(cluster)
        pytest.fail(f"the cluster did not start ({type(exc).__name__}): {exc}")
    try:
        yield cluster
    finally:
        _teardown(cluster)


def _teardown(cluster: Cluster) -> None:
    cluster.stop_phones()
    for node in cluster.nodes.values():
        try:
            node.stop()
        except Exception as exc:  # the others still go
            print(f"node {node.cfg.asterisk.instance} did not stop cleanly: {exc}")
    cluster.edge.stop()
    for net in NETS.values():
        netns.remove(net)


def wait_for(predicate: Any, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"not within {timeout} s: {what}")
