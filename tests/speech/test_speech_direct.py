"""The default (direct) flow with speech, through the real Asterisk and the real Vosk engine.

The call is queued as the greeting starts; the caller's sentence (espeak-ng Korean, recognised
by the Korean model standing in for Mandarin) refines its skill while it waits, lands on the
call record and on the screen-pop event, or sends an emergency on at once. Silence leaves the
call on the default skill.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from hotline.base.settings import load_config
from hotline.calls.records import CallOutcome
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import ARTIFACTS, EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.desk.test_desktop_browser import (  # noqa: F401  (browser: a fixture)
    browser,
    log_in,
)
from tests.speech.test_speech_ivr import korean_prompt
from tests.speech.test_vosk_speech import korean_model_dir
from tests.support.calls import AmiTestClient, mqtt_collector, user_event
from tests.support.desk import add_test_users

pytestmark = pytest.mark.asterisk


def direct_speech_engine(
    setup: HotlineSetup, name: str, monkeypatch: pytest.MonkeyPatch, emergency_phrase: str
) -> EngineProcess:
    monkeypatch.setenv("HOTLINE_SPEECH__MODELS", json.dumps({"zh": str(korean_model_dir())}))
    monkeypatch.setenv("HOTLINE_SUBJECTS__KEYWORDS", json.dumps({"consult": ["엄마"]}))
    monkeypatch.setenv("HOTLINE_EMERGENCY__DIAL", "Local/{number}@test-department")
    monkeypatch.setenv(
        "HOTLINE_EMERGENCY__KINDS",
        json.dumps({"fire": {"number": "119", "phrases": [emergency_phrase]}}),
    )
    path = setup.state_dir / "hotline-direct-speech.toml"
    path.write_text(
        setup.path.read_text(encoding="utf-8").replace('flow = "menu"\n', ""), encoding="utf-8"
    )
    cfg = load_config(path, environ={})
    assert cfg.ivr.flow == "direct"
    _flush_redis_prefix(cfg)
    return EngineProcess(HotlineSetup(cfg, path, setup.state_dir), name)


@pytest.fixture
def refine_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    proc = direct_speech_engine(hotline_setup, request.node.name, monkeypatch, "불이야")
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def emergency_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    # Here the same word means fire, so the emergency rule must win over the subject.
    proc = direct_speech_engine(hotline_setup, request.node.name, monkeypatch, "엄마")
    proc.start()
    yield proc
    proc.stop()


async def speech_on(engine: EngineProcess) -> None:
    for _ in range(150):  # the model loads in the background at engine start
        if any("speech intake on for zh" in line for line in engine.status()["speech"]):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"speech intake never came on: {engine.status()['speech']}")


async def test_the_sentence_said_while_queued_refines_the_skill_and_reaches_the_record(
    refine_engine: EngineProcess, asterisk: Any
) -> None:
    engine = refine_engine
    prompt = korean_prompt(asterisk)
    await speech_on(engine)
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(
                "13977770001", dtmf="", dtmf_delay=0, hold=40, variables={"TEST_PLAY": prompt}
            )
            call_id = await arrived_call_id(mqtt, "13977770001")
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=10)
            assert queued["skill"] == "general"  # queued before anything was said
            _t, said = await mqtt.wait_for(f"/calls/{call_id}/speech", timeout=40)
            assert said["subject"] == "consult", said
            need = await ami.wait_event(user_event("HotlineNeed"), timeout=10)
            assert need["Skill"] == "consult"
            # The agent takes the refined call: the screen-pop event came before the offer.
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
            await ami.hangup(str(queued["channel"]))
            record = await wait_record(engine, call_id, timeout=20)
    finally:
        ami.close()
    assert "엄마" in said["text"].replace(" ", ""), said
    assert said["subject"] == "consult" and said["emergency"] == ""
    assert "엄마" in record.speech_text.replace(" ", ""), record
    assert record.skill == "consult" and record.outcome is CallOutcome.ANSWERED
    assert record.ivr_path.startswith("direct>speech:consult/"), record.ivr_path


async def test_an_emergency_said_while_queued_leaves_the_queue_for_the_emergency_line(
    emergency_engine: EngineProcess, asterisk: Any
) -> None:
    engine = emergency_engine
    prompt = korean_prompt(asterisk)
    await speech_on(engine)
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(
                "13977770002", dtmf="", dtmf_delay=0, hold=40, variables={"TEST_PLAY": prompt}
            )
            call_id = await arrived_call_id(mqtt, "13977770002")
            await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=10)
            left = await ami.wait_event(user_event("HotlineLeftQueue"), timeout=40)
            assert left["Reason"] == "emergency"
            redirected = await ami.wait_event(user_event("HotlineEmergency"), timeout=20)
            assert redirected["Dial"] == "Local/119@test-department"
            _t, gone = await mqtt.wait_for(f"/calls/{call_id}/call_left", timeout=10)
            assert gone["reason"] == "emergency"
            waiting = [w["call_id"] for w in engine.status()["waiting"]]
            assert call_id not in waiting
            await ami.wait_event(
                lambda e: e.get("Event") == "DialEnd" and e.get("DialStatus") == "ANSWER",
                timeout=20,
            )
            chan = redirected["Channel"]
            await ami.hangup(str(chan[-1] if isinstance(chan, list) else chan))
            record = await wait_record(engine, call_id, timeout=20)
    finally:
        ami.close()
    assert record.outcome is CallOutcome.TRANSFERRED
    assert record.ivr_path == "direct>speech>emergency:fire", record.ivr_path
    assert not mqtt.find(f"/calls/{call_id}/abandoned")


async def test_silence_keeps_the_default_skill(refine_engine: EngineProcess) -> None:
    engine = refine_engine
    await speech_on(engine)
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345("13977770003", dtmf="", dtmf_delay=0, hold=30)
            call_id = await arrived_call_id(mqtt, "13977770003")
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=10)
            exit_ = await ami.wait_event(user_event("HotlineIvrExit"), timeout=40)
            await ami.hangup(str(queued["channel"]))
            record = await wait_record(engine, call_id, timeout=20)
    finally:
        ami.close()
    assert exit_["IvrPath"] == "direct>speech:none" and exit_["Skill"] == "general"
    assert record.skill == "general" and record.speech_text == ""
    assert not ami_need_events(ami)


def ami_need_events(ami: AmiTestClient) -> list[dict[str, Any]]:
    return [e for e in ami.events if user_event("HotlineNeed")(e)]


async def test_a_pop_shown_while_the_caller_speaks_is_completed_when_the_sentence_is_heard(
    refine_engine: EngineProcess,
    asterisk: Any,
    browser: Any,  # noqa: F811  (the fixture, imported above)
) -> None:
    """An agent free while the caller says its sentence (the direct flow queued the call as
    the greeting started) is offered the call at once: the desktop's pop comes without speech,
    the transcript and the classifier's findings fill it in when they come, and only then does
    the agent's phone ring (here it rings on without answering): the caller is not cut off
    mid-sentence. (An agent free during the greeting cuts it: tests/acd/test_offer_legs.py.)"""
    engine = refine_engine
    prompt = korean_prompt(asterisk)
    await speech_on(engine)
    add_test_users(engine)
    page = await log_in(browser, engine, "agent1001", "/desk/agent")
    engine.agent("1001", "login", {"seat": "Local/1001@test-noanswer"})
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        await ami.call_12345(
            "13977770003", dtmf="", dtmf_delay=0, hold=40, variables={"TEST_PLAY": prompt}
        )
        listening = await ami.wait_event(user_event("HotlineListening"), timeout=30)
        engine.agent("1001", "ready")
        await page.wait_for_selector("#pop:not([hidden])", timeout=15_000)
        assert (await page.text_content("#pop-speech")) == "—"  # nothing said yet
        await page.fill("#f-caller_name", "王")  # the agent types meanwhile: kept
        await page.wait_for_function(
            "() => document.getElementById('pop-speech')"
            ".textContent.replace(/ /g, '').includes('엄마')",
            timeout=40_000,
        )
        description = await page.input_value("#f-description")
        assert "엄마" in description.replace(" ", ""), description
        assert await page.input_value("#f-caller_name") == "王"
        # The phone rang once the IVR was done with the caller, not before.
        exit_ = await ami.wait_event(user_event("HotlineIvrExit"), timeout=30)
        ringing = await ami.wait_event(user_event("HotlineAgentRinging"), timeout=30)
        assert ringing["CallId"] == exit_["CallId"] == listening["CallId"]
        assert ami.events.index(exit_) < ami.events.index(ringing)
        # The agent's phone was not answered: the pop says so rather than "ringing" for ever.
        await page.wait_for_selector('#agent-state[data-state="not_ready"]', timeout=40_000)
        assert await page.text_content("#pop-status") == "未接通"
        await page.screenshot(path=str(ARTIFACTS / "desktop-pop-speech.png"), full_page=True)
    finally:
        await ami.send({"Action": "Hangup", "Channel": "/^Local\\/12345@citizen-.*$/"})
        ami.close()
