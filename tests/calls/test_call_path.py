"""End to end through the real Asterisk: 12345 -> IVR -> ACD -> agent -> call record + MQTT."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.store import CallRecordStore
from tests.conftest import EngineProcess, _no_channels
from tests.support.calls import AmiTestClient, mqtt_collector, user_event

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def wait_record(engine: EngineProcess, call_id: str, timeout: float = 15) -> CallRecord:
    store = CallRecordStore(engine.cfg.database_url, engine.cfg.spool_dir)
    for _ in range(int(timeout / 0.2)):
        record = await asyncio.to_thread(store.get, call_id)
        if record is not None:
            return record
        await asyncio.sleep(0.2)
    raise AssertionError(f"no call record for {call_id}:\n{engine.log_tail()}")


async def arrived_call_id(mqtt: Any, caller: str) -> str:
    _topic, payload = await mqtt.wait_for("/arrived", pred=lambda p: p["caller"] == caller)
    return str(payload["call_id"])


async def test_answered_call_is_recorded_with_ordered_times_and_mqtt_events(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1001", "login")
        engine.agent("1001", "ready")
        await ami.call_12345("13800138000", dtmf="1")
        call_id = await arrived_call_id(mqtt, "13800138000")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
        await asyncio.sleep(1.0)  # caller and agent talk
        await ami.hangup(queued["channel"])
        await mqtt.wait_for(f"/calls/{call_id}/ended")
        record = await wait_record(engine, call_id)

        assert record.outcome is CallOutcome.ANSWERED
        assert record.agent_id == "1001"
        assert record.caller == "13800138000"
        assert record.dialled == "12345"
        assert record.linked_id
        assert record.ivr_path == "greeting>menu:1"
        assert record.skill == "consult"
        times = [
            record.arrived_at,
            record.ivr_exit_at,
            record.queued_at,
            record.answered_at,
            record.ended_at,
        ]
        assert all(t is not None for t in times), times
        assert times == sorted(times), f"timestamps out of order: {times}"
        assert record.wait_s is not None and 0 <= record.wait_s < 10

        call_topics = [t.rsplit("/", 1)[1] for t in mqtt.topics() if f"/calls/{call_id}/" in t]
        for name in ("arrived", "queued", "offered", "answered", "ended"):
            assert name in call_topics, call_topics
        assert call_topics.index("offered") < call_topics.index("answered")
        assert call_topics.index("answered") < call_topics.index("ended")
        states = [p["state"] for p in mqtt.find("/agents/1001/state")]
        assert "ready" in states and "ringing" in states and "on_call" in states, states
        ended = mqtt.find(f"/calls/{call_id}/ended")[0]
        assert ended["outcome"] == "answered" and ended["agent_id"] == "1001"


async def test_in_the_ivr_falls_back_to_zero_after_three_answered_calls(
    engine: EngineProcess, ami: AmiTestClient, asterisk: Any
) -> None:
    """`hotline status` said "in the IVR 3" after three answered calls with Asterisk holding
    none (a running total): it counts the callers in the IVR now (issue 18)."""
    engine.agent("1001", "login")
    engine.agent("1001", "ready")
    async with mqtt_collector(engine.cfg) as mqtt:
        for n in range(3):
            caller = f"1380013800{n}"
            await ami.call_12345(caller, dtmf="1")
            call_id = await arrived_call_id(mqtt, caller)
            for _ in range(100):  # the key comes 3 s into the greeting: it is in the IVR
                if engine.status()["ivr_sessions"] >= 1:
                    break
                await asyncio.sleep(0.1)
            assert engine.status()["ivr_sessions"] >= 1, "the caller in the IVR is not counted"
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
            await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
            await ami.hangup(queued["channel"])
            await mqtt.wait_for(f"/calls/{call_id}/ended")
    for _ in range(100):  # the IVR's sessions close as their channels go
        if _no_channels(asterisk) and engine.status()["ivr_sessions"] == 0:
            break
        await asyncio.sleep(0.1)
    assert _no_channels(asterisk), asterisk.cli("core show channels")
    assert engine.status()["ivr_sessions"] == 0, engine.status()["ivr_sessions"]
    env = dict(os.environ, HOTLINE_CONFIG=str(engine.setup.path))
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "hotline", "status"],
        env=env, capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "in the IVR 0" in out.stdout, out.stdout


async def test_caller_hanging_up_in_queue_is_abandoned_with_wait_time(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        # No agent is ready: the caller waits on hold, then gives up.
        began = time.monotonic()
        await ami.call_12345("13900139000", dtmf="2")
        call_id = await arrived_call_id(mqtt, "13900139000")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await asyncio.sleep(2.0)
        await ami.hangup(queued["channel"])
        record = await wait_record(engine, call_id)
        whole = time.monotonic() - began
        assert record.outcome is CallOutcome.ABANDONED_QUEUE
        assert record.agent_id is None and record.answered_at is None
        # At least the 2 s it was held after queueing; at most the whole test call (no fixed
        # upper bound that a loaded machine would break).
        assert record.wait_s is not None and 1.5 <= record.wait_s <= whole, (record.wait_s, whole)
        assert record.ivr_path == "greeting>menu:2"


async def test_caller_hanging_up_in_ivr_is_abandoned_in_ivr(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        await ami.call_12345("13700137000", dtmf="", dtmf_delay=1, hold=1)
        call_id = await arrived_call_id(mqtt, "13700137000")
        record = await wait_record(engine, call_id)
        assert record.outcome is CallOutcome.ABANDONED_IVR
        assert record.queued_at is None


async def test_wrong_keys_then_silence_reach_an_agent(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1001", "login")
        engine.agent("1001", "ready")
        await ami.call_12345("13600136000", dtmf="9")
        call_id = await arrived_call_id(mqtt, "13600136000")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=40)
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
        await ami.hangup(queued["channel"])
        record = await wait_record(engine, call_id)
        assert record.outcome is CallOutcome.ANSWERED
        assert record.ivr_path.startswith("greeting>invalid:9>")
        assert record.ivr_path.endswith(">to-agent")
        assert record.skill == "general"


async def test_malformed_and_unknown_ami_events_are_ignored(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    before = engine.status()["malformed_ami_events"]
    # Real events through the real Asterisk: a HotlineQueued with no Skill/Channel, a bad
    # priority, and an event type nobody knows.
    await ami.send({"Action": "UserEvent", "UserEvent": "HotlineQueued", "CallId": "x1"})
    await ami.send(
        {
            "Action": "UserEvent",
            "UserEvent": "HotlineQueued",
            "CallId": "x2",
            "Skill": "general",
            "CallPriority": "high",
            "Channel": "Local/x",
        }
    )
    await ami.send({"Action": "UserEvent", "UserEvent": "SomethingNobodyKnows", "A": "b"})
    for _ in range(50):
        if engine.status()["malformed_ami_events"] >= before + 2:
            break
        await asyncio.sleep(0.1)
    assert engine.status()["malformed_ami_events"] == before + 2
    assert engine.status()["waiting"] == []
    assert "ignoring malformed AMI event" in engine.log_tail(400)
    # ...and the engine still serves calls.
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1001", "login")
        engine.agent("1001", "ready")
        await ami.call_12345("13500135000", dtmf="1")
        call_id = await arrived_call_id(mqtt, "13500135000")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await mqtt.wait_for(f"/calls/{call_id}/answered")
        await ami.hangup(queued["channel"])
        assert (await wait_record(engine, call_id)).outcome is CallOutcome.ANSWERED


async def test_unknown_agi_script_sends_the_caller_to_the_queue(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    await ami.call_12345(
        "13400134000", dtmf="", hold=5, variables={"HOTLINE_IVR_SCRIPT": "no-such-script"}
    )
    queued = await ami.wait_event(user_event("HotlineQueued"), timeout=20)
    assert queued["Skill"] == "general"
    exit_ev = next(e for e in ami.events if e.get("UserEvent") == "HotlineIvrExit")
    assert exit_ev["IvrPath"].startswith("fallback:unknown-script")
    await ami.hangup(queued["Channel"])


async def test_asterisk_restart_mid_test_engine_reconnects_and_serves_next_call(
    engine: EngineProcess, asterisk: Any
) -> None:
    engine.agent("1001", "login")
    engine.agent("1001", "ready")
    await asyncio.to_thread(asterisk.restart)
    # The engine notices, reconnects with back-off, and is serving again.
    for _ in range(100):
        if engine.proc is not None and engine.proc.poll() is not None:
            raise AssertionError(f"engine died:\n{engine.log_tail()}")
        if engine.status()["ami_connected"]:
            break
        await asyncio.sleep(0.2)
    assert engine.status()["ami_connected"], engine.log_tail()
    client = AmiTestClient(engine.cfg)
    await client.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await client.call_12345("13300133000", dtmf="1")
            call_id = await arrived_call_id(mqtt, "13300133000")
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
            await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
            await client.hangup(queued["channel"])
            assert (await wait_record(engine, call_id)).agent_id == "1001"
    finally:
        client.close()
