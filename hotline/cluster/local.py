"""`hotline up --cluster`: a cluster on this machine for trying it — the edge (Kamailio), two
Asterisk nodes, each in its own network namespace with its own address, and two engines over
both (a leader and a standby, engine_pair below). Without ``[[nodes]]`` in the configuration a
demo layout is used (below); with them, each node with a ``netns`` gets that namespace (its
``engine_address`` the host's end)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hotline.asterisk.instance import ManagedAsterisk
from hotline.base.settings import Config
from hotline.cluster import netns
from hotline.cluster.nodes import node_config
from hotline.edge.instance import ManagedKamailio

DEMO_NET = "10.210"


def demo_cluster(cfg: Config) -> Config:
    """``cfg`` with two nodes (hl-a 10.210.1.2, hl-b 10.210.2.2) and the edge on 10.210.1.1,
    unless it names its own nodes."""
    if cfg.clustered:
        return cfg
    data: dict[str, Any] = cfg.model_dump()
    # The printed sipp carrier runs on the edge's own address: the one allowed in.
    data["edge"] = {
        **data["edge"],
        "listen": f"{DEMO_NET}.1.1",
        "carriers": data["edge"]["carriers"] or [f"{DEMO_NET}.1.1"],
    }
    data["nodes"] = [
        {
            "name": name,
            "address": f"{DEMO_NET}.{i}.2",
            "engine_address": f"{DEMO_NET}.{i}.1",
            "netns": f"hl-{name}",
            "ami_port": cfg.ami.port,
        }
        for i, name in enumerate(("a", "b"), start=1)
    ]
    # Agents' phones register at the edge now (seat PJSIP/<id>@edge, set by the validator).
    data["agents"] = [
        {**a, "seat": ""} if a.get("sip_password") and a.get("seat", "").startswith("PJSIP/")
        else a
        for a in data["agents"]
    ]  # fmt: skip
    return Config.model_validate(data)


def node_nets(cfg: Config) -> list[netns.NodeNet]:
    return [netns.NodeNet(n.netns, n.engine_address, n.address) for n in cfg.nodes if n.netns]


class LocalCluster:
    """Starts and stops the namespaces, the edge and the nodes (the engine is the caller's)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.edge = ManagedKamailio(cfg)
        self.nodes = {n.name: ManagedAsterisk(node_config(cfg, n)) for n in cfg.nodes}

    def start(self) -> None:
        try:
            for net in node_nets(self.cfg):
                netns.create(net)
            self.edge.start()
            for node in self.nodes.values():
                node.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.edge.stop()
        for net in node_nets(self.cfg):
            netns.remove(net)

    def banner(self) -> str:
        e = self.cfg.edge
        lines = [f"  edge (Kamailio) sip:{e.listen}:{e.port}  registrar + dispatcher"]
        for node in self.cfg.nodes:
            where = f"netns {node.netns}" if node.netns else "host"
            lines.append(
                f"  node {node.name:<10} SIP {node.address}:{self.cfg.asterisk.sip_port}"
                f"  AMI {node.ami_address}:{node.ami_port}  ({where})"
            )
        return "\n".join(lines)


ENGINE_TAGS = ("a", "b")


def engine_pair(cfg: Config) -> tuple[Config, Config]:
    """The two engines of the cluster on one Redis and database: "a" (the process that
    started the cluster) and "b" (a process of its own, HTTP on the next port). Both take the
    lease the same way; whichever asks first leads, the other stands by and takes over within
    the lease's time. They share the FastAGI port (SO_REUSEPORT, as every standby engine)."""

    def engine(tag: str, port: int, advertise: str) -> Config:
        cluster = cfg.cluster.model_copy(
            update={"standby": True, "engine_id": tag, "advertise_url": advertise}
        )
        http = cfg.http.model_copy(update={"port": port})
        return cfg.model_copy(update={"cluster": cluster, "http": http})

    # b's address is its own: a URL the configuration gives is engine a's.
    return (
        engine("a", cfg.http.port, cfg.cluster.advertise_url),
        engine("b", cfg.http.port + 1, ""),
    )


def engine_argv(tag: str, config: Path | None, *, verbose: bool = False) -> list[str]:
    """``hotline engine --cluster-engine <tag>``: the same configuration (file, or
    $HOTLINE_CONFIG and the environment, inherited), turned into engine ``tag`` of
    :func:`engine_pair` by the engine itself, so both processes derive the same cluster."""
    return [
        sys.executable, "-m", "hotline",
        *(["--config", str(config)] if config is not None else []),
        *(["--verbose"] if verbose else []),
        "engine", "--cluster-engine", tag,
    ]  # fmt: skip


class StandbyEngine:
    """Engine "b" of `hotline up --cluster`, in its own process (kill -9 either engine and the
    other leads), its output in ``<state>/engine-b.log``."""

    def __init__(self, cfg: Config, config: Path | None, *, verbose: bool = False) -> None:
        self.cfg = cfg
        self.argv = engine_argv("b", config, verbose=verbose)
        self.log_path = cfg.paths.state_dir / "engine-b.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Its own session: Ctrl-C in the terminal reaches `up`, which stops it in order.
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
