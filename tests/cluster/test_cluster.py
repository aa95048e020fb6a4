"""A cluster through its real parts: Kamailio as the edge, two Asterisk 22 nodes each in its
own network namespace, one engine over both, sipp as the carrier and as agents' phones that
register at the edge (tests/support/cluster.py). The last test runs two engines over the
cluster, a leader and a standby as `hotline up --cluster` starts them
(tests/support/cluster_standby.py), and kills the leader."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hotline.asterisk.ami.cluster import node_of
from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.store import CallRecordStore
from tests.app.test_engine_restart import wait_waiting
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import MqttCollector, mqtt_collector
from tests.support.cluster import AGENTS, Cluster, start_cluster, wait_for
from tests.support.cluster_standby import (
    NodeWatch,
    cluster_engines,
    leads_both,
    overlapping_legs,
    until,
)
from tests.support.standby import first_at, stands_by

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def cluster(
    hotline_setup: HotlineSetup, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    yield from start_cluster(hotline_setup, tmp_path_factory.mktemp("cluster"))


@pytest.fixture
def engine(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[EngineProcess]:
    _flush_redis_prefix(cluster.cfg)
    proc = EngineProcess(cluster.setup, request.node.name)
    proc.start()
    wait_for(lambda: all(proc.status()["nodes"].values()), 20, "the engine on both nodes' AMI")
    for agent in AGENTS:
        cluster.start_phone(agent)
        proc.agent(agent, "login")
        proc.agent(agent, "ready")
    yield proc
    cluster.stop_phones()
    proc.stop()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print(f"\n--- engine log ---\n{proc.log_tail(150)}")
        print(f"\n--- edge log ---\n{cluster.edge.log_tail(40)}")


def records_since(cluster: Cluster, since: datetime) -> list[CallRecord]:
    store = CallRecordStore(cluster.cfg.database_url, cluster.cfg.spool_dir)
    return [
        r
        for r in store.list_between(since - timedelta(seconds=5), datetime.now(UTC))
        if r.caller.startswith("139")
    ]


def test_a_caller_on_node_b_is_answered_by_an_agent_registered_at_the_edge(
    cluster: Cluster, engine: EngineProcess
) -> None:
    started = datetime.now(UTC)
    carrier = cluster.calls(count=2, talk_ms=6000)
    out, _ = carrier.communicate(timeout=90)
    assert carrier.returncode == 0, (
        f"carrier sipp: exit {carrier.returncode}\n{out.decode()[-3000:]}"
    )
    records = wait_for(
        lambda: len(r := records_since(cluster, started)) >= 2 and r, 20, "two call records"
    )
    by_node = {r.node: r for r in records}
    assert set(by_node) == {"a", "b"}, [(r.unique_id, r.node) for r in records]
    on_b, on_a = by_node["b"], by_node["a"]
    assert on_b.unique_id.startswith("b-"), on_b
    assert on_b.outcome is CallOutcome.ANSWERED and on_b.agent_id in AGENTS, on_b
    # Node a carried the other call meanwhile, answered by the other agent.
    assert on_a.outcome is CallOutcome.ANSWERED and on_a.agent_id in AGENTS, on_a
    assert on_a.agent_id != on_b.agent_id
    assert on_a.answered_at and on_b.answered_at
    assert on_a.answered_at < on_b.ended_at and on_b.answered_at < on_a.ended_at


def test_node_b_killed_then_back(cluster: Cluster, engine: EngineProcess) -> None:
    started = datetime.now(UTC)
    carrier = cluster.calls(count=2, talk_ms=60000, timeout=120)
    wait_for(
        lambda: {node_of(str(a["call_id"])) for a in engine.status()["agents"]
                 if a["state"] == "on_call"} == {"a", "b"},
        30,
        "both agents on a call, one on each node",
    )  # fmt: skip
    node_b = cluster.nodes["b"]
    pid = node_b.pid()
    assert pid is not None, "node b is not running"
    os.kill(pid, signal.SIGKILL)
    killed = datetime.now(UTC)
    # New calls at once: the edge must take them to node a (b is silent) within 5 s.
    carrier2 = cluster.calls(count=2, talk_ms=6000, rate=2)

    # B's call ends with a record that says the node failed; its agent is not left on a call.
    failed = wait_for(
        lambda: [r for r in records_since(cluster, started) if r.node == "b"],
        15,
        "a record of node b's call",
    )
    assert len(failed) == 1 and failed[0].outcome is CallOutcome.NODE_FAILED, failed
    agent_b = failed[0].agent_id
    wait_for(
        lambda: (
            next(a for a in engine.status()["agents"] if a["agent_id"] == agent_b)["state"]
            != "on_call"
        ),
        10,
        f"agent {agent_b} off the failed node's call",
    )
    out, _ = carrier2.communicate(timeout=60)
    new = wait_for(
        lambda: (
            len(r := [x for x in records_since(cluster, killed) if x.arrived_at >= killed]) >= 2
            and r
        ),
        20,
        f"records of the calls after node b died; carrier:\n{out.decode()[-2000:]}",
    )
    assert len(new) == 2 and {r.node for r in new} == {"a"}, new
    # Both reached the queue on node a; the agent freed from node b took one of them (the
    # other agent is still talking on node a, so the second caller may give up first).
    outcomes = [(r.unique_id, r.outcome.value, r.agent_id, r.queued_at) for r in new]
    assert all(r.queued_at is not None for r in new), outcomes
    assert any(r.outcome is CallOutcome.ANSWERED and r.agent_id == agent_b for r in new), outcomes
    first = min(r.arrived_at for r in new) - killed
    assert first < timedelta(seconds=5), (killed, new)
    print(
        f"\nnode b killed: first new call on node a after {first.total_seconds():.2f} s; "
        f"b's call recorded node_failed after "
        f"{(failed[0].ended_at - killed).total_seconds():.2f} s"
    )
    carrier.kill()

    # B back: the edge's probes and the engine's AMI take it into the rotation again.
    node_b.start()
    wait_for(lambda: engine.status()["nodes"].get("b"), 20, "the engine back on node b's AMI")
    time.sleep(3)  # an OPTIONS probe or two
    third = datetime.now(UTC)
    carrier3 = cluster.calls(count=2, talk_ms=2000, rate=2)
    out, _ = carrier3.communicate(timeout=60)
    back = wait_for(
        lambda: (
            len(r := [x for x in records_since(cluster, third) if x.arrived_at >= third]) >= 2 and r
        ),
        20,
        f"records of the calls after node b came back; carrier:\n{out.decode()[-2000:]}",
    )
    assert "b" in {r.node for r in back}, back


@pytest.fixture
def engines(
    cluster: Cluster, request: pytest.FixtureRequest
) -> Iterator[tuple[EngineProcess, EngineProcess]]:
    """Two engines over both nodes, "a" leading, "b" standing by; agents' phones at the edge."""
    _flush_redis_prefix(cluster.cfg)
    name = request.node.name[:40]
    a, b = cluster_engines(cluster, name)
    try:
        a.start(ready=leads_both)
        b.start(ready=stands_by)
        for agent in AGENTS:
            cluster.start_phone(agent)
            a.agent(agent, "login")
        yield a, b
    finally:
        cluster.stop_phones()
        for proc in (a, b):
            proc.stop()
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            for proc in (a, b):
                print(f"\n--- {proc.log_path.name} ---\n{proc.log_tail(120)}")


async def queued_calls(mqtt: MqttCollector, count: int, timeout: float) -> dict[str, str]:
    """call id -> caller channel of the first ``count`` calls queued from now on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = {t.split("/")[-2]: str(p["channel"]) for t, p in mqtt.messages
                  if t.endswith("/queued")}  # fmt: skip
        if len(queued) >= count:
            return queued
        await asyncio.sleep(0.2)
    raise AssertionError(f"{len(queued)} of {count} callers queued within {timeout} s")


async def test_kill_9_of_the_leading_engine_with_20_callers_waiting_across_both_nodes(
    cluster: Cluster, engines: tuple[EngineProcess, EngineProcess]
) -> None:
    a, b = engines
    since = datetime.now(UTC)
    watch = await NodeWatch.connect(cluster)
    carrier = cluster.calls(count=20, talk_ms=170_000, rate=5, timeout=180)
    try:
        async with mqtt_collector(cluster.cfg) as mqtt:
            # Nobody ready: the 20 callers wait, the edge spreading them over both nodes.
            channels = await queued_calls(mqtt, 20, timeout=60)
            order = await wait_waiting(a, 20, timeout=20)
            assert sorted(order) == sorted(channels), order
            assert {node_of(c) for c in order} == {"a", "b"}, order
            # The standby keeps the leader's queue warm (read from Redis) before any failure.
            await until(b, lambda s: [w["call_id"] for w in s["waiting"]] == order, 10,
                        "the standby's copy of the queue")  # fmt: skip

            # The first two callers are talking with the two agents when the leader dies.
            for agent in AGENTS:
                await asyncio.to_thread(a.agent, agent, "ready")
            for call in order[:2]:
                await mqtt.wait_for(f"/calls/{call}/answered", timeout=20)
            await asyncio.sleep(0.5)  # the answers saved in Redis
            killed_at = time.time()
            a.stop(kill=True)
            status = await until(b, leads_both, 10, "the standby leading on both nodes")
            took_over = first_at(b.log_path, "leading with fencing token")
            print(f"\nstandby leads {took_over - killed_at:.2f} s after kill -9 (cluster)")
            assert took_over - killed_at < 3.0, f"took {took_over - killed_at:.2f} s"
            assert status["cluster"]["token"] > 1
            assert await wait_waiting(b, 18) == order[2:]
            agents = {x["agent_id"]: x["state"] for x in status["agents"]}
            assert agents == dict.fromkeys(AGENTS, "on_call"), agents

            # Each caller hangs up once answered; the new leader serves the rest in order.
            done: set[str] = set()
            deadline = time.monotonic() + 90
            while len(done) < len(order) and time.monotonic() < deadline:
                for t, p in list(mqtt.messages):
                    call = str(p.get("call_id", ""))
                    if t.endswith("/answered") and call in channels and call not in done:
                        done.add(call)
                        await watch.hangup(call, channels[call])
                await asyncio.sleep(0.1)
            assert done == set(order), f"not answered: {set(order) - done}\n{b.log_tail(40)}"
            for call in order:  # 'ended' goes out just after the record is stored
                await mqtt.wait_for(f"/calls/{call}/ended", timeout=15)

            offered = [p["call_id"] for t, p in mqtt.messages if t.endswith("/offered")]
            assert offered == order, f"offers out of queue order or repeated: {offered}"
            legs = watch.agent_legs()
            assert set(legs) == set(AGENTS), legs  # every leg named its agent
            assert sum(len(rows) for rows in legs.values()) == len(order), legs
            assert overlapping_legs(legs) == [], overlapping_legs(legs)
            ended = [p["call_id"] for t, p in mqtt.messages if t.endswith("/ended")]
            assert sorted(ended) == sorted(order), "one 'ended' event per call"
            per_call: dict[str, int] = {}
            for record in records_since(cluster, since):
                per_call[record.unique_id] = per_call.get(record.unique_id, 0) + 1
                if record.unique_id in channels:
                    assert record.outcome is CallOutcome.ANSWERED, record
                    assert record.node == node_of(record.unique_id), record
            assert {c: per_call.get(c) for c in order} == dict.fromkeys(order, 1)
    finally:
        carrier.kill()
        carrier.wait()
        watch.close()
