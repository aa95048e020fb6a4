"""Network namespaces for a cluster on one machine: each node gets its own namespace and a
veth pair (host side <prefix>-h, node side <prefix>-n) with a /24 between them and a default
route back to the host, so the node reaches the edge and the engine on the host's addresses."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass


class NetnsError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeNet:
    netns: str
    host_address: str  # the host's end: the engine and the edge as the node sees them
    node_address: str  # the node's own address

    @property
    def host_if(self) -> str:
        return f"{self.netns}-h"[:15]

    @property
    def node_if(self) -> str:
        return f"{self.netns}-n"[:15]


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def exists(netns: str) -> bool:
    proc = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    return any(line.split()[0] == netns for line in proc.stdout.splitlines() if line.strip())


def create(net: NodeNet) -> None:
    """The namespace, its veth pair and addresses (a leftover of the same name is replaced)."""
    if exists(net.netns):
        remove(net.netns)
    _ip("netns", "add", net.netns)
    try:
        _ip(
            "link",
            "add",
            net.host_if,
            "type",
            "veth",
            "peer",
            "name",
            net.node_if,
            "netns",
            net.netns,
        )
        _ip("addr", "add", f"{net.host_address}/24", "dev", net.host_if)
        _ip("link", "set", net.host_if, "up")
        _ip("-n", net.netns, "addr", "add", f"{net.node_address}/24", "dev", net.node_if)
        _ip("-n", net.netns, "link", "set", net.node_if, "up")
        _ip("-n", net.netns, "link", "set", "lo", "up")
        _ip("-n", net.netns, "route", "add", "default", "via", net.host_address)
    except NetnsError:
        remove(net.netns)
        raise


def remove(netns: str) -> None:
    """The namespace goes, and its veth pair with it."""
    if exists(netns):
        _ip("netns", "delete", netns)
