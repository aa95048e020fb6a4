"""Faults with calls in flight, through the real parts: one engine whose own path to Redis,
the MQTT broker or Asterisk's AMI goes through a proxy the test cuts (the service itself stays
up for everyone else).

- Redis away 30 s: calls are routed from memory, the state in Redis catches up when it is back,
  every call has one record.
- MQTT broker away: the engine routes and records as before; the events of the outage are
  delivered, in order, once the broker is back (bounded buffer, hotline/bus.py).
- AMI connection cut, Asterisk running: the engine logs in again, reconciles (a call that ended
  meanwhile gets its record, the agent is free again, a caller who queued meanwhile is found),
  and serves the callers in their order.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from hotline.base.localservices import redis_client_kwargs
from tests.app.test_engine_restart import wait_waiting
from tests.calls.test_call_path import wait_record
from tests.conftest import PORTS, EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, MqttCollector, mqtt_collector
from tests.support.standby import Centre, wait_until

pytestmark = pytest.mark.asterisk

PROXY_PORT = PORTS["redis"] + 8  # one proxy per test, on the slot's own ports
SEAT_1002 = "Local/1002@test-phone"


@pytest.fixture
def centre(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[Centre]:
    _flush_redis_prefix(hotline_setup.cfg)
    c = Centre(hotline_setup, request.node.name[:40])
    yield c
    report = getattr(request.node, "rep_call", None)
    c.close(failed=report is not None and report.failed)


async def queued_call(ami: AmiTestClient, mqtt: MqttCollector, caller: str) -> tuple[str, str]:
    """Place a call that waits; (call id, caller channel) once queued."""
    await ami.call_12345(caller, dtmf="1", dtmf_delay=1)
    _t, arrived = await mqtt.wait_for("/arrived", pred=lambda p: p["caller"] == caller)
    _t, q = await mqtt.wait_for(f"/calls/{arrived['call_id']}/queued", timeout=20)
    return str(arrived["call_id"]), str(q["channel"])


def saved_calls(cfg: Any) -> list[str] | None:
    """The calls in the ACD snapshot in Redis (waiting or with an agent), read from Redis."""
    client = redis.Redis.from_url(
        cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(cfg)
    )
    try:
        raw = client.get(f"{cfg.redis.key_prefix}acd:snapshot")
    finally:
        client.close()
    if raw is None:
        return None
    _sig, _, data = raw.partition(b".")
    return [c["call_id"] for c in json.loads(data)["acd"]["calls"]]


def agent_state(engine: EngineProcess, agent_id: str) -> str:
    return next(
        (str(a["state"]) for a in engine.status()["agents"] if a["agent_id"] == agent_id), ""
    )


async def wait_state(engine: EngineProcess, agent_id: str, state: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if agent_state(engine, agent_id) == state:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"agent {agent_id} not {state}: {agent_state(engine, agent_id)}")


async def test_redis_away_30_s_calls_are_routed_and_the_state_catches_up(
    centre: Centre, hotline_setup: HotlineSetup
) -> None:
    proxy = centre.proxy(PROXY_PORT, PORTS["redis"])
    eng = centre.engine("solo", http_port=PORTS["http"], redis_port=PROXY_PORT, standby=False)
    eng.start()
    ami = AmiTestClient(hotline_setup.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(hotline_setup.cfg) as mqtt:
            eng.agent("1001", "login")
            eng.agent("1001", "ready")
            c1, ch1 = await queued_call(ami, mqtt, "13944440001")
            await mqtt.wait_for(f"/calls/{c1}/answered", timeout=20)
            down_at = time.monotonic()
            proxy.set_mode("down")

            # Redis away: a talking call ends, two callers come, one is answered, one waits.
            await ami.hangup(ch1)
            assert (await wait_record(eng, c1)).agent_id == "1001"
            c2, ch2 = await queued_call(ami, mqtt, "13944440002")
            c3, ch3 = await queued_call(ami, mqtt, "13944440003")
            await mqtt.wait_for(f"/calls/{c2}/answered", timeout=20)
            assert await wait_waiting(eng, 1) == [c3]
            assert eng.status()["ami_connected"]

            await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
            proxy.set_mode("pass")
            # Back: the snapshot in Redis says what the engine knows (c1 over, c2 talking, c3
            # waiting), within 5 s.
            saved = None
            for _ in range(50):
                saved = await asyncio.to_thread(saved_calls, hotline_setup.cfg)
                if saved == [c2, c3]:
                    break
                await asyncio.sleep(0.1)
            assert saved == [c2, c3], f"state in Redis did not catch up: {saved}"

            await ami.hangup(ch2)
            await mqtt.wait_for(f"/calls/{c3}/answered", timeout=20)
            await ami.hangup(ch3)
            for call in (c1, c2, c3):
                assert (await wait_record(eng, call)).agent_id == "1001"
            for call in (c1, c2, c3):  # 'ended' goes out just after the record is stored
                await mqtt.wait_for(f"/calls/{call}/ended", timeout=10)
            ended = [p["call_id"] for t, p in mqtt.messages if t.endswith("/ended")]
            assert sorted(ended) == sorted([c1, c2, c3]), ended
    finally:
        ami.close()


async def test_mqtt_broker_away_the_engine_goes_on_and_the_events_follow_in_order(
    centre: Centre, hotline_setup: HotlineSetup
) -> None:
    proxy = centre.proxy(PROXY_PORT, PORTS["mqtt"])
    eng = centre.engine("solo", http_port=PORTS["http"], mqtt_port=PROXY_PORT, standby=False)
    eng.start()
    wait_until(eng, lambda s: s.get("mqtt_connected"), timeout=10)
    ami = AmiTestClient(hotline_setup.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(hotline_setup.cfg) as mqtt:  # straight to the broker
            eng.agent("1001", "login")
            eng.agent("1001", "ready")
            await mqtt.wait_for("/agents/1001/state", pred=lambda p: p.get("state") == "ready")
            proxy.set_mode("down")
            seen_before = len(mqtt.messages)

            # The broker unreachable for the engine: a call comes, is answered, ends.
            await ami.call_12345("13955550001", dtmf="1", dtmf_delay=1)
            channel, call = await caller_channel(ami, "13955550001")
            await wait_state(eng, "1001", "on_call", timeout=20)
            await ami.hangup(channel)
            record = await wait_record(eng, call)  # recorded while the broker is away
            assert record.agent_id == "1001"
            assert not eng.status()["mqtt_connected"], "the cut did not reach the engine"
            private = [t for t, _ in mqtt.messages[seen_before:] if "/calls/" in t]
            assert private == [], f"events went out while the broker was cut off: {private}"

            proxy.set_mode("pass")
            await mqtt.wait_for(f"/calls/{call}/ended", timeout=20)
            kinds = [t.rsplit("/", 1)[1] for t, _ in mqtt.messages if f"/calls/{call}/" in t]
            order = [k for k in ("arrived", "queued", "offered", "answered", "ended") if k in kinds]
            assert order == ["arrived", "queued", "offered", "answered", "ended"], kinds
            assert [k for k in kinds if k in order] == order, f"out of order: {kinds}"
    finally:
        ami.close()


async def caller_channel(ami: AmiTestClient, caller: str, timeout: float = 10) -> tuple[str, str]:
    """The citizen's channel and its Uniqueid (the call id): the ;2 half of
    Local/12345@citizen."""
    ev = await ami.wait_event(
        lambda e: e.get("UserEvent") == "HotlineArrived" and e.get("Caller") == caller,
        timeout=timeout,
    )
    channel = ev["Channel"]
    channel = channel[-1] if isinstance(channel, list) else channel  # the header comes twice
    return str(channel), str(ev["CallId"])


async def test_ami_connection_cut_asterisk_running_the_engine_reconciles_and_serves(
    centre: Centre, hotline_setup: HotlineSetup
) -> None:
    proxy = centre.proxy(PROXY_PORT, PORTS["ami"])
    eng = centre.engine("solo", http_port=PORTS["http"], ami_port=PROXY_PORT, standby=False)
    eng.start()
    ami = AmiTestClient(hotline_setup.cfg)  # the test's own AMI login, straight to Asterisk
    await ami.connect()
    try:
        async with mqtt_collector(hotline_setup.cfg) as mqtt:
            eng.agent("1001", "login")
            eng.agent("1001", "ready")
            c1, ch1 = await queued_call(ami, mqtt, "13966660001")
            await mqtt.wait_for(f"/calls/{c1}/answered", timeout=20)
            c2, ch2 = await queued_call(ami, mqtt, "13966660002")
            c3, ch3 = await queued_call(ami, mqtt, "13966660003")
            assert await wait_waiting(eng, 2) == [c2, c3]

            proxy.set_mode("down")
            wait_until(eng, lambda s: not s["ami_connected"], timeout=10)
            # Unheard by the engine: the talking call ends, a fourth caller queues.
            await ami.hangup(ch1)
            await ami.call_12345("13966660004", dtmf="1", dtmf_delay=1)
            ch4, c4 = await caller_channel(ami, "13966660004")
            await ami.wait_event(
                lambda e: e.get("UserEvent") == "HotlineQueued" and e.get("CallId") == c4
            )
            proxy.set_mode("pass")
            wait_until(eng, lambda s: s["ami_connected"], timeout=15)

            record = await wait_record(eng, c1)
            assert record.agent_id == "1001", record
            assert await wait_waiting(eng, 3) == [c2, c3, c4]
            # 1001 is free again and takes c2, c3, c4 in that order.
            for call, channel in ((c2, ch2), (c3, ch3), (c4, ch4)):
                await mqtt.wait_for(f"/calls/{call}/answered", timeout=20)
                await ami.hangup(channel)
                assert (await wait_record(eng, call)).agent_id == "1001"
            answered = [t.split("/")[-2] for t in mqtt.topics() if t.endswith("/answered")]
            assert answered == [c1, c2, c3, c4], (answered, mqtt.topics())
            for call in (c1, c2, c3, c4):  # 'ended' goes out just after the record is stored
                await mqtt.wait_for(f"/calls/{call}/ended", timeout=10)
            ended = [p["call_id"] for t, p in mqtt.messages if t.endswith("/ended")]
            assert sorted(ended) == sorted([c1, c2, c3, c4]), ended
    finally:
        ami.close()
