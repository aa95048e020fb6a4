"""Call control on a call node B holds, through the real parts (tests/support/cluster.py):
Kamailio as the edge, two Asterisk nodes in network namespaces, one engine, the agents'
phones registered at the edge, sipp as the carrier both ways (calls in through the edge, and
the carrier's gateway for calls the nodes place out through the edge).

One cluster and one engine for the module; each test leaves no call behind."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk.ami.cluster import node_of
from hotline.base.settings import load_config
from hotline.calls.records import CallOutcome
from hotline.calls.store import CallRecordStore
from hotline.cluster.nodes import node_config
from hotline.recordings.store import RecordingStore
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient
from tests.support.cluster import (
    AGENTS,
    EDGE,
    EDGE_PORT,
    NOT_A_CARRIER_PORT,
    Cluster,
    start_cluster,
    wait_for,
)
from tests.support.desk import PASSWORDS, DeskClient, add_user, desk_client
from tests.voicemail.test_voicemail import CLOSED

pytestmark = pytest.mark.asterisk

AGENT, SUPERVISOR_PHONE = AGENTS  # 2001 takes calls; 2002's phone is the supervisor's
PASSWORDS.setdefault("agent2001", "edge-agent-2001-secret-pw")
PASSWORDS.setdefault("super2002", "edge-super-2002-secret-pw")


@pytest.fixture(scope="module")
def cluster(
    hotline_setup: HotlineSetup, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    yield from start_cluster(hotline_setup, tmp_path_factory.mktemp("cluster-calls"))


@pytest.fixture(scope="module")
def pstn(cluster: Cluster) -> Path:
    return cluster.start_pstn()


@pytest.fixture(scope="module")
def engine(cluster: Cluster, pstn: Path) -> Iterator[EngineProcess]:
    _flush_redis_prefix(cluster.cfg)
    with pytest.MonkeyPatch.context() as env:
        # A caller who gave up after 1 s is called back (from the node that held the call).
        env.setenv("HOTLINE_ACD__MISSED_CALLBACK_AFTER_S", "1")
        env.setenv("HOTLINE_ACD__CALLBACK_MIN_IDLE_AGENTS", "0")
        env.setenv("HOTLINE_ACD__CALLBACK_MIN_IDLE_SHARE", "0")
        env.setenv("HOTLINE_ACD__CALLBACK_RETRY_S", "0")
        env.setenv("HOTLINE_DEPARTMENTS__RING_S", "10")
        proc = EngineProcess(cluster.setup, "cluster-calls")
        proc.start()
    try:
        wait_for(lambda: all(proc.status()["nodes"].values()), 20, "the engine on both nodes' AMI")
        for phone in AGENTS:
            cluster.start_phone(phone)
        add_user(proc, "agent2001", "agent", "--agent", AGENT)
        add_user(proc, "super2002", "supervisor", "--agent", SUPERVISOR_PHONE)
        proc.agent(AGENT, "login")
        yield proc
    finally:
        cluster.stop_phones()
        proc.stop()


@pytest.fixture
async def desks(engine: EngineProcess) -> AsyncIterator[tuple[DeskClient, DeskClient]]:
    agent, boss = desk_client(engine), desk_client(engine)
    assert (await agent.login("agent2001")).status == 303
    assert (await boss.login("super2002")).status == 303
    yield agent, boss
    await agent.close()
    await boss.close()


@pytest.fixture(autouse=True)
def _log_on_failure(request: pytest.FixtureRequest, cluster: Cluster) -> Iterator[None]:
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        log = cluster.setup.state_dir / "engine-cluster-calls.log"
        if log.exists():
            print("\n--- engine log ---\n" + "\n".join(log.read_text().splitlines()[-150:]))
        print(f"\n--- edge log ---\n{cluster.edge.log_tail(60)}")


def agent_state(engine: EngineProcess) -> dict[str, Any]:
    return next(a for a in engine.status()["agents"] if a["agent_id"] == AGENT)


def set_agent(engine: EngineProcess, state: str) -> None:
    """The agent ``ready`` or ``not_ready`` once the last call's wrap-up is over."""
    now = wait_for(
        lambda: (st := agent_state(engine)["state"]) in ("ready", "not_ready") and st,
        30,
        "the agent off calls and wrap-up",
    )
    if now != state:
        engine.agent(AGENT, state.replace("_", "-"))


async def call_on_b(
    cluster: Cluster, engine: EngineProcess, agent: DeskClient, talk_ms: int
) -> tuple[str, Any]:
    """A citizen's call that the edge gave node B, answered by the agent: (call id, the
    carrier's sipp, which hangs up after ``talk_ms``). The edge takes turns between the
    nodes: a call that lands on node A is hung up by the agent and the next one goes to B."""
    for _ in range(3):
        wait_for(lambda: agent_state(engine)["state"] == "ready", 20, "the agent ready")
        carrier = cluster.calls(count=1, talk_ms=talk_ms, timeout=talk_ms // 1000 + 30)
        call_id = str(
            wait_for(
                lambda: (a := agent_state(engine))["state"] == "on_call" and a["call_id"],
                30,
                "the agent on a call",
            )
        )
        if node_of(call_id) == "b":
            return call_id, carrier
        resp = await agent.post_json("/desk/api/call/hangup")
        assert resp.status == 200, await resp.text()
        carrier.communicate(timeout=30)
    pytest.fail("no call reached node b in three turns of the edge")


def carrier_done(carrier: Any) -> str:
    """The carrier's sipp ends its call itself (BYE after the talk time)."""
    try:
        out, _ = carrier.communicate(timeout=90)
    except Exception:
        carrier.kill()
        raise
    return str(out.decode(errors="replace")[-1500:])


async def wait_steps(desk: DeskClient, call_id: str, count: int, timeout: float = 20) -> list[str]:
    names: list[str] = []
    for _ in range(int(timeout * 10)):
        async with desk.http.get(f"{desk.base}/desk/api/calls/{call_id}/steps") as resp:
            if resp.status == 200:
                names = [s["step"] for s in (await resp.json())["steps"]]
                if len(names) >= count:
                    break
        await asyncio.sleep(0.1)
    return names


def record_of(cluster: Cluster, call_id: str) -> Any:
    store = CallRecordStore(cluster.cfg.database_url, cluster.cfg.spool_dir)
    try:
        return store.get(call_id)
    finally:
        store.dispose()


def recordings_of(cluster: Cluster, call_id: str) -> list[Any]:
    store = RecordingStore(cluster.cfg.database_url)
    try:
        return list(store.for_call(call_id))
    finally:
        store.dispose()


def invite(port: int, user: str = "12345") -> str:
    """One INVITE sent to the edge from ``EDGE:port``; the first final or provisional status
    line that comes back."""
    call_id = uuid.uuid4().hex
    sdp = f"v=0\r\no=- 1 1 IN IP4 {EDGE}\r\ns=-\r\nc=IN IP4 {EDGE}\r\nt=0 0\r\n"
    sdp += "m=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"
    msg = (
        f"INVITE sip:{user}@{EDGE}:{EDGE_PORT} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {EDGE}:{port};branch=z9hG4bK{call_id[:16]};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:13900000000@{EDGE}:{port}>;tag={call_id[:8]}\r\n"
        f"To: <sip:{user}@{EDGE}:{EDGE_PORT}>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
        f"Contact: <sip:13900000000@{EDGE}:{port}>\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((EDGE, port))
        sock.settimeout(5)
        sock.sendto(msg.encode(), (EDGE, EDGE_PORT))
        while True:
            status = sock.recv(65535).decode(errors="replace").split("\r\n", 1)[0]
            if not status.startswith("SIP/2.0 100"):
                return status


def test_only_the_carriers_may_call_in_through_the_edge(
    cluster: Cluster, engine: EngineProcess
) -> None:
    # The carrier's own address from a port that is not in [edge] carriers: refused at the
    # edge, no node sees it.
    assert invite(NOT_A_CARRIER_PORT).startswith("SIP/2.0 403"), cluster.edge.log_tail(20)
    assert f"{EDGE}:{NOT_A_CARRIER_PORT} refused" in cluster.edge.log_tail(40)
    assert engine.status()["waiting"] == []


async def test_a_call_on_node_b_listened_whispered_barged_then_transferred_to_a_department(
    cluster: Cluster, engine: EngineProcess, pstn: Path, desks: tuple[DeskClient, DeskClient]
) -> None:
    agent, boss = desks
    set_agent(engine, "ready")
    call_id, carrier = await call_on_b(cluster, engine, agent, talk_ms=30_000)
    node_b = AmiTestClient(node_config(cluster.cfg, cluster.cfg.nodes[1]))
    await node_b.connect()
    try:
        # The supervisor's phone (registered at the edge) is rung from node B: listen,
        # whisper, barge, one after the other, each spying on the agent's leg there.
        for mode in ("listen", "whisper", "barge"):
            resp = await boss.post_json(f"/desk/api/agents/{AGENT}/spy/{mode}")
            assert resp.status == 200, await resp.text()
        steps = await wait_steps(boss, call_id, 3)
        assert steps == ["listen", "whisper", "barge"], steps
        spies: list[dict[str, Any]] = []
        for _ in range(3):
            spies.append(
                await node_b.wait_event(
                    lambda ev: (
                        ev.get("Event") == "ChanSpyStart"
                        and ev.get("SpyerChannel") not in [s["SpyerChannel"] for s in spies]
                    ),
                    timeout=20,
                )
            )
        # One spied channel, the agent's leg of this call (rung through the edge), and three
        # supervisor's legs, each through the edge too.
        (spied,) = {str(s["SpyeeChannel"]) for s in spies}
        assert spied.startswith("PJSIP/edge-"), spies
        found = await node_b.send(
            {"Action": "Getvar", "Channel": spied, "Variable": "HOTLINE_CALL"}
        )
        found = found[0] if isinstance(found, list) else found
        assert found.get("Value") == call_id, found
        assert all(str(s["SpyerChannel"]).startswith("PJSIP/edge-") for s in spies), spies
        # Attended transfer: the department line (PJSIP/12315@edge on node B) goes out
        # through the edge to the carrier's gateway, answers; then the citizen is handed over.
        resp = await agent.post_json("/desk/api/threeway/consult", {"department": "12315"})
        assert resp.status == 200, await resp.text()
        steps = await wait_steps(agent, call_id, 5)
        assert steps[3:] == ["consult_started", "consult_answered"], steps
        resp = await agent.post_json("/desk/api/threeway/complete")
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["stage"] == "transferred"
        steps = await wait_steps(agent, call_id, 6)
        assert steps[-1] == "transfer_completed", steps
        trace = pstn.read_text(errors="replace")
        assert f"INVITE sip:12315@{EDGE}" in trace, trace[-2000:]
    finally:
        node_b.close()
        carrier_done(carrier)
    # The call ends with a record of node B's call and its recording, complete, over HTTP.
    record = wait_for(
        lambda: (r := record_of(cluster, call_id)) is not None and r.ended_at and r,
        30,
        "the record of the B call",
    )
    assert record.node == "b" and record.agent_id == AGENT, record
    assert record.outcome is CallOutcome.ANSWERED, record
    await assert_recording(cluster, boss, call_id)


async def assert_recording(cluster: Cluster, boss: DeskClient, call_id: str) -> None:
    """The call's recordings on node B: the agent's leg and the department's leg, each
    finished (a WAV whose header counts every byte) and played back over HTTP."""
    rows = wait_for(
        lambda: (
            len(r := [x for x in recordings_of(cluster, call_id) if x.ended_at is not None]) >= 2
            and r
        ),
        30,
        f"the finished recordings of {call_id}",
    )
    assert sorted(r.kind for r in rows) == ["call", "threeway"], rows
    agent_leg = next(r for r in rows if r.kind == "call")
    assert agent_leg.path.endswith(f"/{call_id}-{AGENT}.wav"), agent_leg
    for rec in rows:
        async with boss.http.get(f"{boss.base}/desk/recordings/{rec.id}/audio") as resp:
            assert resp.status == 200, await resp.text()
            data = await resp.read()
        assert len(data) == rec.size_bytes, (len(data), rec)
        assert_complete_wav(data, rec.path)


def assert_complete_wav(data: bytes, name: str) -> None:
    """A finished WAV: RIFF and data sizes that count the whole file (MixMonitor and
    Record() write them when they close it), and some audio past the header."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", (name, data[:16])
    riff = int.from_bytes(data[4:8], "little")
    at = data.find(b"data", 12)
    assert at > 0, (name, data[:64])
    size = int.from_bytes(data[at + 4 : at + 8], "little")
    assert riff == len(data) - 8 and size == len(data) - at - 8, (name, riff, size, len(data))
    assert size > 0, f"{name}: no audio"


async def test_a_call_on_node_b_blind_transferred_to_a_department_through_the_edge(
    cluster: Cluster, engine: EngineProcess, pstn: Path, desks: tuple[DeskClient, DeskClient]
) -> None:
    agent, _boss = desks
    set_agent(engine, "ready")
    before = pstn.read_text(errors="replace").count("INVITE sip:12333@")
    call_id, carrier = await call_on_b(cluster, engine, agent, talk_ms=12_000)
    try:
        resp = await agent.post_json("/desk/api/call/transfer", {"department": "12333"})
        assert resp.status == 200, await resp.text()
        assert await wait_steps(agent, call_id, 1) == ["blind_transfer"]
        wait_for(
            lambda: pstn.read_text(errors="replace").count("INVITE sip:12333@") > before,
            15,
            "the department line dialled out through the edge",
        )
        # The agent is free again while the citizen talks to the department.
        wait_for(lambda: agent_state(engine)["state"] != "on_call", 15, "the agent off the call")
    finally:
        carrier_done(carrier)


async def test_missed_calls_are_called_back_from_their_own_node_through_the_edge(
    cluster: Cluster, engine: EngineProcess, pstn: Path, desks: tuple[DeskClient, DeskClient]
) -> None:
    agent, _boss = desks
    set_agent(engine, "not_ready")
    started = datetime.now(UTC)
    # Two citizens wait 6 s with no agent ready and hang up: missed calls. The edge gives the
    # nodes one each.
    carrier = cluster.calls(count=2, talk_ms=6000, rate=2, timeout=60)
    out = carrier_done(carrier)
    missed = wait_for(
        lambda: len(r := [x for x in records_since(cluster, started) if x.ended_at]) == 2 and r,
        20,
        f"the records of the two missed calls; carrier:\n{out}",
    )
    assert {node_of(r.unique_id) for r in missed} == {"a", "b"}, missed
    set_agent(engine, "ready")
    # Each callback: the agent's phone first, originated on the node that held the call
    # (through the edge), then the citizen's number out through the edge to the carrier.
    for _ in missed:
        call_id = str(
            wait_for(
                lambda: (a := agent_state(engine))["state"] == "on_call" and a["call_id"],
                30,
                "the agent on a callback",
            )
        )
        record = next(r for r in missed if r.unique_id == call_id)
        invite = wait_for(
            lambda number=record.caller: pstn_invite(pstn, number),
            20,
            f"the callback to {record.caller} out through the edge",
        )
        node = cluster.cfg.nodes[0 if node_of(call_id) == "a" else 1]
        assert node.name == node_of(call_id)
        assert f"Via: SIP/2.0/UDP {node.address}:" in invite, invite
        resp = await agent.post_json("/desk/api/call/hangup")
        assert resp.status == 200, await resp.text()
        wait_for(
            lambda done=call_id: agent_state(engine)["call_id"] != done,
            20,
            f"the callback {call_id} over",
        )
    store = CallRecordStore(cluster.cfg.database_url, cluster.cfg.spool_dir)
    try:
        for record in missed:
            attempts = store.attempts(record.unique_id)
            assert [(a["agent_id"], a["number"]) for a in attempts] == [(AGENT, record.caller)], (
                attempts
            )
    finally:
        store.dispose()


def pstn_invite(pstn: Path, number: str) -> str:
    """The INVITE the carrier's gateway got for ``number`` (sipp's message trace), or ""."""
    blocks = pstn.read_text(errors="replace").split("----------------------------------")
    return next((b for b in blocks if f"INVITE sip:{number}@" in b), "")


def records_since(cluster: Cluster, since: datetime) -> list[Any]:
    store = CallRecordStore(cluster.cfg.database_url, cluster.cfg.spool_dir)
    try:
        return [
            r for r in store.list_between(since, datetime.now(UTC)) if r.caller.startswith("139")
        ]
    finally:
        store.dispose()


async def test_out_of_hours_a_caller_on_node_b_leaves_a_message_that_becomes_a_ticket(
    cluster: Cluster, engine: EngineProcess
) -> None:
    """Last in the module: the module's engine makes way for one whose clock is out of hours
    (tests/integration/test_voicemail.py's calendar), on the same database and nodes."""
    engine.stop()
    path = cluster.setup.state_dir / "cluster-closed.toml"
    path.write_text(cluster.setup.path.read_text(encoding="utf-8") + CLOSED, encoding="utf-8")
    closed = EngineProcess(
        HotlineSetup(load_config(path, environ={}), path, cluster.setup.state_dir),
        "cluster-closed",
    )
    _flush_redis_prefix(closed.cfg)
    closed.start()
    boss = desk_client(closed)
    try:
        wait_for(lambda: all(closed.status()["nodes"].values()), 20, "the engine on both nodes")
        assert (await boss.login("super2002")).status == 303
        started = datetime.now(UTC)
        # Two callers talk (sample speech) for 28 s: one of them is on node B.
        carrier = cluster.calls(
            count=2, talk_ms=7000, rate=2, timeout=90, scenario="carrier-edge-talk-uac.xml"
        )
        out = carrier_done(carrier)
        record = wait_for(
            lambda: next(
                (r for r in records_since(cluster, started) if r.node == "b" and r.ended_at),
                None,
            ),
            30,
            f"the record of the call on node b; carrier:\n{out}",
        )
        assert record.outcome is CallOutcome.VOICEMAIL, record
        assert record.ivr_path == "closed>voicemail", record
        call_id = record.unique_id
        tickets = wait_for(
            lambda: [
                t for t in closed.api("GET", "/api/v1/tickets?view=all")["tickets"]
                if call_id in t["calls"]
            ],
            60,
            f"the ticket of node b's message {call_id}",
        )  # fmt: skip
        assert len(tickets) == 1, tickets
        ticket = closed.api("GET", f"/api/v1/tickets/{tickets[0]['number']}")
        assert ticket["channel"] == "voicemail" and ticket["calls"] == [call_id], ticket
        assert ticket["state"] == "voicemail_review", ticket
        rows = wait_for(
            lambda: [r for r in recordings_of(cluster, call_id) if r.kind == "voicemail"],
            20,
            "the message's recording row",
        )
        assert ticket["recordings"] == [rows[0].path], (ticket["recordings"], rows)
        async with boss.http.get(f"{boss.base}/desk/recordings/{rows[0].id}/audio") as resp:
            assert resp.status == 200, await resp.text()
            assert_complete_wav(await resp.read(), rows[0].path)
    finally:
        await boss.close()
        closed.stop()
