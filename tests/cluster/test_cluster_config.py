"""A cluster's configuration (pure, no Kamailio or Asterisk): the nodes, the edge's rendered
configuration, each node's Asterisk configuration, and how actions find their node."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest

from hotline.asterisk.ami.client import AmiClient
from hotline.asterisk.ami.cluster import ClusterAmi, node_of
from hotline.asterisk.ami.events import CallArrived
from hotline.asterisk.render import RenderError, render_all
from hotline.base.settings import ConfigError, load_config
from hotline.calls.records import CallOutcome
from hotline.calls.tracker import CallTracker
from hotline.cluster.nodes import fastagi_hosts, node_config
from hotline.edge.render import render

NODES = """
[edge]
listen = "10.9.1.1"
port = 5070

[[nodes]]
name = "a"
address = "10.9.1.2"
engine_address = "10.9.1.1"
netns = "hlx-a"

[[nodes]]
name = "b"
address = "10.9.2.2"
engine_address = "10.9.2.1"

[[agents]]
id = "2001"
sip_password = "generate"

[[agents]]
id = "2002"
seat = "Local/2002@test-phone"
"""

DIRS = {
    f"{n}_dir": f"/srv/hotline/t/{n}" for n in ("etc", "run", "log", "spool", "lib", "cache")
} | {"mod_dir": "/usr/lib/x86_64-linux-gnu/asterisk/modules"}


def cluster_cfg(tmp_path: Path, extra: str = NODES) -> Any:
    path = tmp_path / "h.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n{extra}', encoding="utf-8")
    return load_config(path, environ={})


def test_call_ids_name_their_node() -> None:
    assert node_of("b-1733551234.17") == "b"
    assert node_of("1733551234.17") == "" and node_of("hl-abc") == "" and node_of("") == ""


def test_agents_with_a_password_are_reached_at_the_edge(tmp_path: Path) -> None:
    cfg = cluster_cfg(tmp_path)
    assert [a.dial_string for a in cfg.agents] == ["PJSIP/2001@edge", "Local/2002@test-phone"]
    assert fastagi_hosts(cfg) == ["10.9.1.1", "10.9.2.1"]


def test_two_nodes_of_one_name_are_refused(tmp_path: Path) -> None:
    twice = NODES.replace('name = "b"', 'name = "a"')
    with pytest.raises(ConfigError, match="nodes"):
        cluster_cfg(tmp_path, twice)


def test_the_edge_config_has_the_nodes_and_the_agents_passwords(tmp_path: Path) -> None:
    cfg = cluster_cfg(tmp_path)
    files = render(cfg, tmp_path / "edge")
    password = (tmp_path / "sip-password-2001").read_text().strip()
    assert f'if ($au == "2001") {{ $var(pw) = "{password}"; }}' in files["kamailio.cfg"]
    assert "listen=udp:10.9.1.1:5070" in files["kamailio.cfg"]
    assert "{{" not in files["kamailio.cfg"]
    assert files["dispatcher.list"].splitlines()[1:] == [
        "1 sip:10.9.1.2:5060 0 0 duid=a",
        "1 sip:10.9.2.2:5060 0 0 duid=b",
    ]


def test_a_password_that_could_break_out_of_the_edge_config_is_refused(tmp_path: Path) -> None:
    cfg = cluster_cfg(tmp_path, NODES.replace('"generate"', '"long-enough\\"; exit; #"'))
    with pytest.raises(RenderError, match="2001"):
        render(cfg, tmp_path / "edge")


def test_each_node_gets_its_own_instance_name_and_edge_endpoint(tmp_path: Path) -> None:
    cfg = cluster_cfg(tmp_path)
    node = node_config(cfg, cfg.nodes[1])
    assert node.asterisk.instance == "main-b" and node.asterisk.netns == ""
    files = render_all(node, DIRS, managed=True)
    assert "systemname = b" in files["asterisk.conf"]
    assert "[citizen-b]" in files["pjsip.conf"] and "match = 10.9.1.1" in files["pjsip.conf"]
    assert "contact = sip:10.9.1.1:5070" in files["pjsip.conf"]
    assert "bind = 10.9.2.2:5060" in files["pjsip.conf"]
    assert "[2001]" not in files["pjsip.conf"]  # agents register at the edge, not here
    assert "permit = 10.9.2.1/255.255.255.255" in files["manager.conf"]
    assert "agi://10.9.2.1:4573" in files["extensions.conf"]


def test_one_asterisk_renders_as_before(tmp_path: Path) -> None:
    files = render_all(cluster_cfg(tmp_path, ""), DIRS, managed=True)
    assert "systemname" not in files["asterisk.conf"].split("; (no systemname)")[0][-30:]
    assert "[citizen-trunk]" in files["pjsip.conf"] and "[edge]" not in files["pjsip.conf"]
    assert "permit = 127.0.0.1/255.255.255.255" in files["manager.conf"]


class _Client:
    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.sent: list[dict[str, Any]] = []

    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> str:
        self.sent.append(action)
        return "ok"


async def test_actions_go_to_the_node_of_their_call() -> None:
    a, b = _Client(), _Client()
    cluster = ClusterAmi(cast(dict[str, AmiClient], {"a": a, "b": b}))
    originate = {
        "Action": "Originate",
        "Channel": "PJSIP/2001@edge",
        "ChannelId": "hl-leg1",
        "Variable": ["HOTLINE_CALL=b-1733.4", "HOTLINE_AGENT=2001"],
    }
    await cluster.send(originate)
    await cluster.send({"Action": "Hangup", "Channel": "hl-leg1"})  # the leg it placed
    await cluster.send({"Action": "Hangup", "Channel": "b-1733.4"})  # a call id
    await cluster.send({"Action": "CoreShowChannels"}, node="a")
    assert [x["Action"] for x in b.sent] == ["Originate", "Hangup", "Hangup"]
    assert [x["Action"] for x in a.sent] == ["CoreShowChannels"]


def test_a_lost_node_ends_its_calls_as_node_failed() -> None:
    tracker = CallTracker()
    tracker.feed(
        CallArrived(
            at=1.0,
            call_id="b-10.1",
            caller="139",
            dialled="12345",
            linked_id="b-10.1",
            channel="PJSIP/citizen-b-1",
        )
    )
    record = tracker.lose("b-10.1", 5.0, "node b failed", node_failed=True)
    assert record is not None
    assert record.outcome is CallOutcome.NODE_FAILED and record.node == "b"
    assert record.hangup_cause == "node b failed"


def test_the_demo_cluster_puts_two_nodes_behind_the_edge(tmp_path: Path) -> None:
    from hotline.cluster.local import demo_cluster, node_nets

    cfg = demo_cluster(cluster_cfg(tmp_path, ""))
    assert [(n.name, n.address, n.netns) for n in cfg.nodes] == [
        ("a", "10.210.1.2", "hl-a"),
        ("b", "10.210.2.2", "hl-b"),
    ]
    assert cfg.edge.listen == "10.210.1.1"
    assert {a.dial_string for a in cfg.agents} == {"PJSIP/1001@edge", "PJSIP/1002@edge"}
    assert [(n.host_address, n.node_address) for n in node_nets(cfg)] == [
        ("10.210.1.1", "10.210.1.2"),
        ("10.210.2.1", "10.210.2.2"),
    ]


class _Node(_Client):
    """A node's AMI client that has some events to give, then none."""

    def __init__(self, events: list[Any]) -> None:
        super().__init__()
        self._pending = events

    async def start(self) -> None:
        return None

    def close(self) -> None:
        self.connected.clear()

    async def events(self) -> Any:
        for event in self._pending:
            yield event
        await asyncio.Event().wait()


async def test_a_node_that_boots_is_reconciled_alone_and_a_silent_one_is_lost() -> None:
    from hotline.asterisk.ami.client import NodeLost, Reconnected
    from hotline.asterisk.ami.events import AsteriskBooted

    a, b = _Node([AsteriskBooted(at=1.0)]), _Node([])
    b.connected.clear()  # node b never answers
    cluster = ClusterAmi(cast(dict[str, AmiClient], {"a": a, "b": b}), node_lost_after_s=0.3)
    await cluster.start()
    stream = cluster.events()
    try:
        first = await asyncio.wait_for(anext(stream), 2)
        assert type(first) is Reconnected and first.node == "a"
        lost = await asyncio.wait_for(anext(stream), 2)
        assert isinstance(lost, NodeLost) and lost.node == "b"
        assert cluster.connected.is_set() and cluster.nodes_connected() == {"a": True, "b": False}
    finally:
        cluster.close()


async def test_a_conference_line_and_a_supervisor_ring_on_the_calls_node() -> None:
    a, b = _Client(), _Client()
    cluster = ClusterAmi(cast(dict[str, AmiClient], {"a": a, "b": b}))
    await cluster.send(
        {"Action": "Originate", "Channel": "PJSIP/12315@citizen-trunk",
         "Variable": ["HOTLINE_CONF=hl3-b-1733.4", "HOTLINE_CONF_ROLE=department"]}
    )  # fmt: skip
    await cluster.send(
        {"Action": "Originate", "Channel": "PJSIP/9001@edge",
         "Variable": ["HOTLINE_SPY_CHANNEL=PJSIP/edge-00000001", "HOTLINE_CALL=b-1733.4"]}
    )  # fmt: skip
    assert len(b.sent) == 2 and not a.sent


def test_call_events_and_wallboard_rows_name_the_node() -> None:
    from hotline.acd.notifier import AcdNotifier
    from hotline.wallboard.rules import wallboard

    published: list[tuple[Any, dict[str, Any]]] = []

    class Bus:
        def publish(self, topic: Any, payload: dict[str, Any]) -> None:
            published.append((topic, payload))

    notifier = AcdNotifier(cast(Any, Bus()))
    notifier.call_arrived("b-1733.4", "139", "12345", 1.0)
    notifier.call_arrived("1733.5", "139", "12345", 1.0)  # one Asterisk: no node key at all
    assert published[0][1]["node"] == "b" and "node" not in published[1][1]

    waiting = {"call_id": "a-1733.6", "skill": "general", "priority": 0, "caller": "13900000000",
               "channel": "PJSIP/citizen-a-1", "queued_at": 100.0, "state": "waiting",
               "agent_id": None}  # fmt: skip
    agent = {"agent_id": "2001", "seat": "PJSIP/2001@edge", "skills": (("general", 1),),
             "state": "on_call", "reason": "", "since": 90.0, "call_id": "b-1733.4"}  # fmt: skip
    board = wallboard({"waiting": [waiting], "agents": [agent]}, now=110.0)
    assert board["waiting"][0]["node"] == "a" and board["agents"][0]["node"] == "b"


def test_a_node_may_have_its_own_ami_login(tmp_path: Path) -> None:
    from hotline.base.secrets import MASK, masked

    own = NODES.replace(
        'netns = "hlx-a"', 'netns = "hlx-a"\nami_username = "eng"\nami_secret = "s3cret-a"'
    )
    cfg = cluster_cfg(tmp_path, own)
    node_a, node_b = (node_config(cfg, n) for n in cfg.nodes)
    assert (node_a.ami.username, node_a.ami.secret) == ("eng", "s3cret-a")
    assert (node_b.ami.username, node_b.ami.secret) == ("hotline", "")  # the generated one
    files = render_all(node_a, DIRS, managed=True)
    assert "[eng]" in files["manager.conf"] and "secret = s3cret-a" in files["manager.conf"]
    shown = masked(cfg.model_dump(mode="json"))
    assert shown["nodes"][0]["ami_secret"] == MASK


def test_the_edge_lets_only_the_carriers_in_and_sends_calls_out_to_the_gateway(
    tmp_path: Path,
) -> None:
    edge = '[edge]\nlisten = "10.9.1.1"\nport = 5070\n'
    listed = edge + 'carriers = ["203.0.113.7", "10.9.1.1:5090"]\noutbound = "203.0.113.8"\n'
    text = render(cluster_cfg(tmp_path, NODES.replace(edge, listed)), tmp_path / "e")[
        "kamailio.cfg"
    ]
    assert 'if ($si == "203.0.113.7") { $var(carrier) = 1; }' in text
    assert 'if ($si == "10.9.1.1" && $sp == 5090) { $var(carrier) = 1; }' in text
    assert '$du = "sip:203.0.113.8:5060";' in text
    # The agents' ids stay on the location (a department number goes out, never theirs).
    assert 'if ($rU == "2001") { $var(agent) = 1; }' in text
    assert 'if ($rU == "2002") { $var(agent) = 1; }' in text
    # Nothing configured: nobody calls in, nothing goes out.
    bare = render(cluster_cfg(tmp_path), tmp_path / "e2")["kamailio.cfg"]
    assert "# (no carriers: every call in is refused)" in bare and "$du =" not in bare
    assert '"480", "No outbound carrier' in bare
    for bad in ('carriers = ["10.9.1.1; exit"]', 'carriers = ["10.9.1.1:99999"]'):
        with pytest.raises(RenderError, match=r"edge\.carriers"):
            render(cluster_cfg(tmp_path, NODES.replace(edge, edge + bad + "\n")), tmp_path / "e3")


def test_a_node_dials_out_through_the_edge(tmp_path: Path) -> None:
    """A node has no citizen-trunk endpoint: every call out goes to the edge, which sends it
    to the carrier; dial strings of other endpoints are left alone."""
    cfg = cluster_cfg(
        tmp_path,
        NODES + '\n[departments]\nlines = [{number = "12315", name = "市场监管", '
        'dial = "PJSIP/12315@citizen-trunk"}, {number = "12333", name = "人社", '
        'dial = "Local/12333@test-department"}]\n',
    )
    assert cfg.acd.callback_dial == "PJSIP/{number}@edge"
    assert cfg.survey.dial == cfg.emergency.dial == "PJSIP/{number}@edge"
    assert [d.dial for d in cfg.departments.lines] == [
        "PJSIP/12315@edge", "Local/12333@test-department",
    ]  # fmt: skip
    defaults = cluster_cfg(tmp_path)
    assert {d.dial for d in defaults.departments.lines} == {
        f"PJSIP/{d.number}@edge" for d in defaults.departments.lines
    }
    # One Asterisk keeps its citizen-trunk.
    path = tmp_path / "one.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n', encoding="utf-8")
    assert load_config(path, environ={}).acd.callback_dial == "PJSIP/{number}@citizen-trunk"
