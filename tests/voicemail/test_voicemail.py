"""Out of hours: the IVR says agents are away, the caller leaves a message, the call record
says voicemail and the message is a real WAV in the voicemail directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.base.settings import load_config
from hotline.calls.records import CallOutcome
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.baresip import wav_rms
from tests.support.calls import AmiTestClient, mqtt_collector, user_event

# Opening hours by day type (National Day 2026): issue 12, also run in 2027 and 2028.
pytestmark = [pytest.mark.asterisk, pytest.mark.calendar]

# A centre staffed 08:00-22:00 (09:00-17:00 on public holidays), its clock set to 03:00 on
# National Day 2026: out of hours by the configurable clock, not by an always-closed table.
CLOSED = """
[hours]
workday = ["08:00-22:00"]
rest_day = ["08:00-22:00"]
holiday = ["09:00-17:00"]
makeup_workday = ["08:00-22:00"]
clock_start = 2026-10-01T03:00:00+08:00
"""


@pytest.fixture
def closed_engine(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[EngineProcess]:
    path = hotline_setup.state_dir / "hotline-closed.toml"
    path.write_text(hotline_setup.path.read_text(encoding="utf-8") + CLOSED, encoding="utf-8")
    setup = HotlineSetup(load_config(path, environ={}), path, hotline_setup.state_dir)
    _flush_redis_prefix(setup.cfg)
    proc = EngineProcess(setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


async def test_out_of_hours_caller_leaves_a_voicemail(
    closed_engine: EngineProcess, asterisk: Any
) -> None:
    ami = AmiTestClient(closed_engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(closed_engine.cfg) as mqtt:
            # The caller talks (a prompt in a loop) for 20 s: our prompt, the beep, a message.
            await ami.call_12345(
                "13633330000",
                dtmf="",
                dtmf_delay=0,
                hold=20,
                variables={"TEST_PLAY": "hotline/menu"},
            )
            call_id = await arrived_call_id(mqtt, "13633330000")
            started = await ami.wait_event(user_event("HotlineVoicemail"), timeout=30)
            record = await wait_record(closed_engine, call_id, timeout=30)
    finally:
        ami.close()
    assert record.outcome is CallOutcome.VOICEMAIL
    assert record.ivr_path == "closed>voicemail"
    assert record.queued_at is None and record.agent_id is None
    assert started["CallId"] == call_id
    wav: Path = asterisk.host_path(started["File"])
    assert wav.exists(), f"no voicemail file at {wav}"
    assert wav.stat().st_size > 8000, "the message is (nearly) empty"
    assert wav_rms(wav) > 100, "the message is silence"
