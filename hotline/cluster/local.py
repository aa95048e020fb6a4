"""`hotline up --cluster`: a cluster on this machine for trying it — the edge (Kamailio), two
Asterisk nodes, each in its own network namespace with its own address, and the engine over
both. Without ``[[nodes]]`` in the configuration a demo layout is used (below); with them,
each node with a ``netns`` gets that namespace (its ``engine_address`` the host's end)."""

from __future__ import annotations

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
            netns.remove(net.netns)

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
