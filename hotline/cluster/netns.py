"""Network namespaces for a cluster on one machine: each node gets its own namespace and a
veth pair (host side <prefix>-h, node side <prefix>-n) with a /24 between them and a default
route back to the host, so the node reaches the edge and the engine on the host's addresses."""

from __future__ import annotations

import os
import signal
import subprocess
import time
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


def _link_exists(name: str) -> bool:
    proc = subprocess.run(["ip", "link", "show", name], capture_output=True, text=True, timeout=10)
    return proc.returncode == 0


def _pids(netns: str) -> list[int]:
    proc = subprocess.run(
        ["ip", "netns", "pids", netns], capture_output=True, text=True, timeout=10
    )
    return [int(word) for word in proc.stdout.split() if word.isdigit()]


def _end_processes(netns: str, grace: float = 3.0) -> None:
    """Whatever still runs inside (a phone, sipp, a node that did not stop) keeps the namespace
    and its veth pair alive after `ip netns delete`, so it is ended first: TERM, then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _pids(netns)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _pids(netns):
            time.sleep(0.05)


def _wait_link_gone(name: str, timeout: float = 5.0) -> None:
    """The kernel dismantles a deleted namespace in the background, so the host's end of its
    veth pair lingers for a moment; a pair re-created under the same name meanwhile fails with
    "File exists". Wait for it, then delete it by hand if it is still there."""
    deadline = time.monotonic() + timeout
    while _link_exists(name):
        if time.monotonic() >= deadline:
            subprocess.run(["ip", "link", "delete", name], capture_output=True, timeout=10)
            if _link_exists(name):
                raise NetnsError(f"the interface {name} of an earlier namespace does not go away")
            return
        time.sleep(0.05)


def create(net: NodeNet) -> None:
    """The namespace, its veth pair and addresses (a leftover of the same name is replaced)."""
    remove(net)
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
        remove(net)
        raise


def remove(net: NodeNet) -> None:
    """The namespace goes, with whatever still runs in it, and its veth pair with it."""
    if exists(net.netns):
        _end_processes(net.netns)
        _ip("netns", "delete", net.netns)
    _wait_link_gone(net.host_if)
