"""Through the real Asterisk: an answered call is recorded (MixMonitor on the agent leg) into the
recordings store by date and call id, and its metadata row is linked to the call record; a
voicemail that becomes a ticket gets its row too, and a three-way call's department leg."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hotline.recordings.files import audio_roots
from hotline.recordings.store import Recording, RecordingStore
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import EngineProcess
from tests.desk.test_desktop_calls_live import (  # noqa: F401  (agent, lines: fixtures)
    agent,
    answered_call,
    lines,
    steps_of,
)
from tests.support.calls import AmiTestClient, mqtt_collector
from tests.support.desk import DeskClient
from tests.voicemail.test_voicemail_tickets import (  # noqa: F401  (closed_engine: a fixture)
    closed_engine,
    host_voicemail_dir,
    korean_message,
)

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def wait_finished(engine: EngineProcess, call_id: str, timeout: float = 20) -> Recording:
    store = RecordingStore(engine.cfg.database_url)
    try:
        for _ in range(int(timeout / 0.25)):
            found = await asyncio.to_thread(store.for_call, call_id)
            if found and found[0].ended_at is not None and found[0].size_bytes:
                return found[0]
            await asyncio.sleep(0.25)
    finally:
        store.dispose()
    raise AssertionError(f"no finished recording row for {call_id}:\n{engine.log_tail()}")


async def test_answered_call_leaves_a_wav_in_the_store_with_its_metadata_row(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1001", "login")
        engine.agent("1001", "ready")
        # The citizen talks (a prompt in a loop): MixMonitor writes only the audio that flows.
        await ami.call_12345("13800138000", dtmf="1", variables={"TEST_PLAY": "hotline/menu"})
        call_id = await arrived_call_id(mqtt, "13800138000")
        _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
        await asyncio.sleep(2.0)  # caller and agent talk
        await ami.hangup(queued["channel"])
        await mqtt.wait_for(f"/calls/{call_id}/ended")
        record = await wait_record(engine, call_id)
        rec = await wait_finished(engine, call_id)
        # The recording's start and end are on MQTT too.
        _t, started = await mqtt.wait_for(
            f"/calls/{call_id}/recording", pred=lambda p: p["state"] == "started"
        )
        _t, finished = await mqtt.wait_for(
            f"/calls/{call_id}/recording", pred=lambda p: p["state"] == "finished", timeout=20
        )

    assert started["path"] == finished["path"] == rec.path and started["size_bytes"] is None
    assert finished["size_bytes"] == rec.size_bytes and finished["agent_id"] == "1001"
    assert record.answered_at is not None
    day = record.answered_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y/%m/%d")
    assert rec.kind == "call" and rec.agent_id == "1001" and rec.deleted_at is None
    assert rec.path == f"calls/{day}/{call_id}-1001.wav"
    assert rec.ended_at == record.ended_at
    # Recorded from the answer: the recording starts within the answered part of the call (the
    # stamps come from two event streams, so a second either way; no fixed upper bound).
    assert record.answered_at - timedelta(seconds=1) <= rec.started_at <= record.ended_at
    wav = audio_roots(engine.cfg).resolve(rec.path)
    data = wav.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:16]
    assert len(data) == rec.size_bytes
    # About 2 s of talk in 8 kHz 16-bit mono (16 kB a second), past the 44-byte header.
    assert len(data) > 16_000, len(data)


async def test_a_voicemail_turned_into_a_ticket_gets_its_recording_row(
    closed_engine: EngineProcess,  # noqa: F811  (the fixture, imported above)
    asterisk: Any,
) -> None:
    """The intake's hook: the message's ticket made, a ``voicemail`` row links call, file and
    ticket (a message the engine finds pending at start, as in test_voicemail_tickets.py)."""
    engine = closed_engine
    folder = host_voicemail_dir(asterisk)
    call_id = f"{int(time.time())}.{time.monotonic_ns() % 100000 + 7}"
    wav = korean_message(folder, f"20261123-{call_id}.wav")
    sidecar = {
        "call_id": call_id, "file": wav.name, "status": "pending", "caller": "13633330003",
        "ivr_path": "closed>voicemail", "ended": True, "left_at": "2026-11-23T01:00:00+00:00",
    }  # fmt: skip
    wav.with_name(wav.name + ".json").write_text(json.dumps(sidecar), encoding="utf-8")
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.start()
        _, event = await mqtt.wait_for(f"calls/{call_id}/voicemail_ticket", timeout=90)
    store = RecordingStore(engine.cfg.database_url)
    try:
        for _ in range(40):
            rows = await asyncio.to_thread(store.for_call, call_id)
            if rows:
                break
            await asyncio.sleep(0.25)
    finally:
        store.dispose()
    assert len(rows) == 1, engine.log_tail()
    rec = rows[0]
    assert (rec.kind, rec.path, rec.ticket_number) == (
        "voicemail", f"voicemail/{wav.name}", event["ticket"]
    )  # fmt: skip
    assert rec.size_bytes == wav.stat().st_size and rec.agent_id is None
    assert event["emergency"] is False  # no emergency words in this message
    assert rec.started_at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert audio_roots(engine.cfg).resolve(rec.path).samefile(wav)  # wav: via the bind mount


async def test_a_three_way_call_records_the_department_leg_too(
    agent: DeskClient,  # noqa: F811  (the fixture, imported above)
    engine: EngineProcess,
    ami: AmiTestClient,
) -> None:
    """Consult a department, then hand the citizen over (the agent leaves): the agent's leg
    and the department's leg are both in the store, under the citizen's call."""
    call_id, channel = await answered_call(engine, ami, "13700005555")
    resp = await agent.post_json("/desk/api/threeway/consult", {"department": "12315"})
    assert resp.status == 200, await resp.text()
    for _ in range(3):  # steps_of waits 5 s at most; a loaded machine may need longer
        steps = await steps_of(agent, call_id, 2)
        if len(steps) >= 2:
            break
    assert steps == ["consult_started", "consult_answered"], engine.log_tail()
    resp = await agent.post_json("/desk/api/threeway/complete")
    assert resp.status == 200, await resp.text()
    await asyncio.sleep(2.0)  # the citizen and the department talk without the agent
    await ami.hangup(channel)
    await wait_record(engine, call_id)
    store = RecordingStore(engine.cfg.database_url)
    try:
        for _ in range(80):
            rows = await asyncio.to_thread(store.for_call, call_id)
            if len(rows) == 2 and all(r.size_bytes for r in rows):
                break
            await asyncio.sleep(0.25)
    finally:
        store.dispose()
    kinds = sorted((r.kind, r.agent_id) for r in rows)
    assert kinds == [("call", "1001"), ("threeway", None)], (rows, engine.log_tail())
    department = next(r for r in rows if r.kind == "threeway")
    assert department.path.startswith("calls/") and "-dept-" in department.path
    wav = audio_roots(engine.cfg).resolve(department.path).read_bytes()
    assert wav[:4] == b"RIFF" and len(wav) == department.size_bytes
    assert len(wav) > 16_000, len(wav)  # the department's prompt, heard for seconds
