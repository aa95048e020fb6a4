"""The IVR flows through the real Asterisk: the default (direct) flow, keys while waiting, each
main-menu exit, a ticket's progress read back, and the plain-AGI fail-safe."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.asterisk.agiserver import FastAgiServer
from hotline.base.settings import load_config
from hotline.calls.records import CallOutcome
from hotline.ivr.flow import DirectFlow
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, mqtt_collector, user_event

pytestmark = pytest.mark.asterisk


@pytest.fixture
def direct_engine(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> Iterator[EngineProcess]:
    """The engine on the default IVR flow (the shared test config uses the menu flow)."""
    text = hotline_setup.path.read_text(encoding="utf-8")
    assert 'flow = "menu"' in text
    path = hotline_setup.state_dir / "hotline-direct.toml"
    path.write_text(text.replace('flow = "menu"\n', ""), encoding="utf-8")
    setup = HotlineSetup(load_config(path, environ={}), path, hotline_setup.state_dir)
    assert setup.cfg.ivr.flow == "direct", "the default flow must be the direct one"
    _flush_redis_prefix(setup.cfg)
    proc = EngineProcess(setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


def waiting(engine: EngineProcess, call_id: str) -> dict[str, Any] | None:
    return next((w for w in engine.status()["waiting"] if w["call_id"] == call_id), None)


def agent_state(engine: EngineProcess, agent_id: str) -> str | None:
    found = (a for a in engine.status()["agents"] if a["agent_id"] == agent_id)
    return next((str(a["state"]) for a in found), None)


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


async def test_direct_flow_queues_at_the_greeting_with_no_key_and_an_agent_answers(
    direct_engine: EngineProcess,
) -> None:
    engine = direct_engine
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345("13511110001", dtmf="", hold=30)
            call_id = await arrived_call_id(mqtt, "13511110001")
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=10)
            # Queued while the IVR still talks to the caller (the greeting and the question),
            # not after it: the FastAGI session is still open.
            assert engine.status()["ivr_sessions"] >= 1, engine.status()["ivr_sessions"]
            # Still in the greeting, already in the queue; an agent who becomes ready takes it.
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            _t, answered = await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
            await ami.hangup(str(queued["channel"]))
            record = await wait_record(engine, call_id)
    finally:
        ami.close()
    assert record.outcome is CallOutcome.ANSWERED
    assert record.ivr_path.startswith("direct"), record.ivr_path
    assert record.queued_at is not None and record.arrived_at is not None
    assert record.arrived_at <= record.queued_at
    assert answered["agent_id"] == "1001"


async def test_a_key_while_waiting_changes_the_need_and_keeps_the_place(
    direct_engine: EngineProcess,
) -> None:
    engine = direct_engine
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            # Nobody is ready: the caller waits, then presses 1 (English) on the hold music.
            await ami.call_12345("13511110002", dtmf="1", dtmf_delay=9, hold=40)
            call_id = await arrived_call_id(mqtt, "13511110002")
            await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=10)
            before = await until(lambda: waiting(engine, call_id), 5, "call waiting")
            assert before["skill"] == "general"
            need = await ami.wait_event(user_event("HotlineNeed"), timeout=30)
            assert need["Skill"] == "english"
            after = await until(
                lambda: (w := waiting(engine, call_id)) and w["skill"] == "english" and w,
                5,
                "the waiting call's skill is english",
            )
            assert after["queued_at"] == before["queued_at"]  # the same place in time
            # The English agent (1002's skills) is not in; 1001 (no english) never gets it.
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            # The ACD offers on the "ready" itself: once 1001 shows ready (not ringing) with
            # the call still waiting, it was not offered; no fixed sleep to hope long enough.
            await until(lambda: agent_state(engine, "1001") == "ready", 5, "1001 ready")
            assert waiting(engine, call_id) is not None
            assert agent_state(engine, "1001") == "ready"
            assert not mqtt.find(f"/calls/{call_id}/offered")
            await ami.hangup(str(before["channel"]))
            record = await wait_record(engine, call_id)
    finally:
        ami.close()
    assert record.skill == "english"
    assert record.outcome is CallOutcome.ABANDONED_QUEUE


async def test_a_waiting_caller_who_chooses_voicemail_leaves_without_an_abandon(
    direct_engine: EngineProcess,
) -> None:
    engine = direct_engine
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(
                "13511110003",
                dtmf="9",
                dtmf_delay=9,
                hold=25,
                variables={"TEST_DTMF2": "", "TEST_PLAY": ""},
            )
            call_id = await arrived_call_id(mqtt, "13511110003")
            await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=10)
            left = await ami.wait_event(user_event("HotlineLeftQueue"), timeout=30)
            assert left["Reason"] == "voicemail"
            await ami.wait_event(user_event("HotlineVoicemail"), timeout=10)
            _t, gone = await mqtt.wait_for(f"/calls/{call_id}/call_left", timeout=10)
            assert gone["reason"] == "voicemail"
            assert waiting(engine, call_id) is None
            record = await wait_record(engine, call_id, timeout=40)
    finally:
        ami.close()
    assert record.outcome is CallOutcome.VOICEMAIL
    assert record.ivr_path.endswith("key:9"), record.ivr_path
    assert not mqtt.find(f"/calls/{call_id}/abandoned")


@pytest.mark.parametrize(("key", "skill"), [("1", "consult"), ("2", "request"), ("0", "general")])
async def test_each_main_menu_exit_by_dtmf(engine: EngineProcess, key: str, skill: str) -> None:
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    caller = f"1352222000{key}"
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(caller, dtmf=key, dtmf_delay=2, hold=20)
            call_id = await arrived_call_id(mqtt, caller)
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=20)
            assert queued["skill"] == skill
            await ami.hangup(str(queued["channel"]))
            record = await wait_record(engine, call_id)
    finally:
        ami.close()
    assert record.ivr_path == f"greeting>menu:{key}"
    assert record.skill == skill


@pytest.mark.calendar  # a deadline: issue 12
async def test_a_ticket_progress_is_read_back_after_its_number_is_checked(
    engine: EngineProcess,
) -> None:
    ticket = engine.api(
        "POST",
        "/api/v1/tickets",
        {
            "actor": "1001",
            "category": "help",
            "description": "小区路灯不亮",
            "subject_code": "02.01",
            "caller_number": "13533330000",
        },
    )
    number = str(ticket["number"])
    dispatched = engine.api(
        "POST",
        f"/api/v1/tickets/{number}/actions",
        {"action": "Dispatch", "actor": "d-1", "unit": "water"},
    )
    due = str(dispatched["reply_due_at"])
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)  # the check digit catches it
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            # Menu key 3; a mistyped number; the right one after the "wrong number" prompt.
            await ami.call_12345(
                "13533330000",
                dtmf=f"3{wrong}#",
                dtmf_delay=2,
                hold=90,
                variables={"TEST_DTMF2": f"{number}#", "TEST_DTMF2_DELAY": "7"},
            )
            call_id = await arrived_call_id(mqtt, "13533330000")
            try:
                status = await ami.wait_event(user_event("HotlineTicketStatus"), timeout=45)
            except AssertionError:
                seen = [
                    (e.get("Application"), e.get("AppData"))
                    for e in ami.events
                    if e.get("Event") == "Newexten" and e.get("Context") in ("citizen",)
                ] + [
                    (e.get("Event"), e.get("Digit"))
                    for e in ami.events
                    if e.get("Event") == "DTMFEnd"
                ]
                raise AssertionError(f"no ticket status read back; dialplan: {seen}") from None
            # Back at the main menu; silence there ends at an agent, with the whole path.
            await ami.wait_event(user_event("HotlineIvrExit"), timeout=60)
            chan = (await ami.wait_event(user_event("HotlineArrived"), timeout=5))["Channel"]
            await ami.hangup(str(chan[-1] if isinstance(chan, list) else chan))
            record = await wait_record(engine, call_id)
    finally:
        ami.close()
    assert status["Ticket"] == number
    assert status["State"] == "dispatched"
    assert status["Due"] and due.startswith(status["Due"][:4]), (status, due)
    assert "menu:3>ticket:invalid>ticket:in-progress" in record.ivr_path, record.ivr_path


async def test_fastagi_server_stopped_mid_test_the_plain_agi_failsafe_takes_a_message(
    asterisk: Any, hotline_setup: HotlineSetup
) -> None:
    cfg = hotline_setup.cfg
    server = FastAgiServer(
        {"ivr": DirectFlow(cfg.ivr, cfg.acd.default_skill)},
        cfg.acd.default_skill,
        cfg.fastagi.host,
        cfg.fastagi.port,
    )
    await server.start()
    ami = AmiTestClient(cfg)
    await ami.connect()
    try:
        await ami.call_12345("13544440001", dtmf="", hold=20)
        served = await ami.wait_event(user_event("HotlineIvrExit"), timeout=30)
        assert served["AgiStatus"] == "SUCCESS"
        await server.stop()  # the engine's FastAGI is gone from here on
        # The caller talks for 22 s: the apology, the beep, a message.
        await ami.call_12345(
            "13544440002", dtmf="", hold=22, variables={"TEST_PLAY": "hotline/menu"}
        )
        failed = await ami.wait_event(
            lambda ev: user_event("HotlineIvrExit")(ev) and ev.get("AgiStatus") == "FAILURE",
            timeout=20,
        )
        started = await ami.wait_event(user_event("HotlineVoicemail"), timeout=10)
        assert started["CallId"] == failed["CallId"]
        await ami.wait_event(
            lambda ev: ev.get("Event") == "Hangup" and ev.get("Uniqueid") == failed["CallId"],
            timeout=40,
        )
    finally:
        ami.close()
        await server.stop()
    from hotline.asterisk.instance import ManagedAsterisk

    wav = ManagedAsterisk(cfg).host_path(str(started["File"]))
    assert Path(wav).exists(), f"the fail-safe left no message at {wav}"
    assert Path(wav).stat().st_size > 8000 * 2 * 5, "the message is shorter than 5 s of audio"
    note = json.loads(Path(f"{wav}.json").read_text(encoding="utf-8"))
    assert note["call_id"] == failed["CallId"] and note["caller"] == "13544440002"
    assert note["ended"] is True
