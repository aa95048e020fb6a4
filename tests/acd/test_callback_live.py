"""The 15-second policy on the real phone: a waiting caller is offered a callback that keeps
their place, accepts with a key, hangs up; when an agent is free the ACD rings the agent first,
then the citizen, and they talk."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from hotline.calls.store import CallRecordStore
from hotline.recordings.files import audio_roots
from hotline.recordings.store import RecordingStore
from tests.calls.test_call_path import arrived_call_id
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, mqtt_collector, user_event

pytestmark = pytest.mark.asterisk


@pytest.fixture
def callback_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    monkeypatch.setenv("HOTLINE_ACD__OFFER_CALLBACK_AFTER_S", "2")
    # The citizen answers and talks (the department line plays a prompt in a loop).
    monkeypatch.setenv("HOTLINE_ACD__CALLBACK_DIAL", "Local/{number}@test-department")
    _flush_redis_prefix(hotline_setup.cfg)
    proc = EngineProcess(hotline_setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


async def test_callback_keeps_the_place_and_rings_agent_then_citizen(
    callback_engine: EngineProcess,
) -> None:
    engine = callback_engine
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            # Menu key 1, then (4 s later, while the callback offer plays) 1 again: accept.
            await ami.call_12345("13855556666", dtmf="1" + "w" * 8 + "1", dtmf_delay=2)
            call_id = await arrived_call_id(mqtt, "13855556666")
            await mqtt.wait_for(f"/calls/{call_id}/offer_callback", timeout=20)
            accepted = await ami.wait_event(user_event("HotlineCallbackAccepted"), timeout=20)
            assert accepted["CallId"] == call_id and accepted["Number"] == "13855556666"
            # The caller has hung up, yet the call keeps its place in the queue.
            await ami.wait_event(
                lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == call_id, timeout=20
            )
            waiting = engine.status()["waiting"]
            assert [(w["call_id"], w["state"]) for w in waiting] == [(call_id, "callback")]

            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            _t, placed = await mqtt.wait_for(f"/calls/{call_id}/place_callback", timeout=20)
            assert placed["agent_id"] == "1001" and placed["number"] == "13855556666"
            connected = await ami.wait_event(user_event("HotlineCallbackConnected"), timeout=30)
            assert connected["CallId"] == call_id and connected["Agent"] == "1001"
            await mqtt.wait_for(
                "/agents/1001/state", pred=lambda p: p["state"] == "on_call", timeout=10
            )
            await asyncio.sleep(2.0)  # they talk (the citizen's line plays a prompt)
            await ami.send({"Action": "Hangup", "Channel": "/^Local\\/1001@test-phone-.*;1$/"})
            await mqtt.wait_for(
                "/agents/1001/state", pred=lambda p: p["state"] in ("wrap_up", "ready"), timeout=20
            )
            assert engine.status()["waiting"] == []
            # The attempt is on the call record of the call it answers.
            store = CallRecordStore(engine.cfg.database_url, engine.cfg.spool_dir)
            attempts = await asyncio.to_thread(store.attempts, call_id)
            store.dispose()
            assert [(a["attempt"], a["agent_id"], a["outcome"]) for a in attempts] == [
                (1, "1001", "connected")
            ], attempts
            assert attempts[0]["number"] == "13855556666"
            # A callback is an answered call: it is recorded like one, under the call it answers.
            rows = await recordings_of(engine, call_id)
            assert [(r.kind, r.agent_id) for r in rows] == [("call", "1001")], rows
            wav = audio_roots(engine.cfg).resolve(rows[0].path)
            assert wav.name == f"{call_id}-1001.wav" and wav.stat().st_size > 44
    finally:
        ami.close()


async def recordings_of(engine: EngineProcess, call_id: str) -> list[Any]:
    store = RecordingStore(engine.cfg.database_url)
    try:
        for _ in range(40):
            rows = await asyncio.to_thread(store.for_call, call_id)
            if rows:
                return rows
            await asyncio.sleep(0.25)
        return []
    finally:
        store.dispose()
