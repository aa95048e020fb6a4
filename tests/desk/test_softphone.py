"""A real SIP softphone (baresip) as the agent: registered over PJSIP, auto-answers the ACD's
call, audio flows both ways, and the agent hanging up ends the citizen's call too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hotline.calls.records import CallOutcome
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import PORTS, EngineProcess
from tests.support.baresip import BaresipError, BaresipPhone, wav_rms
from tests.support.calls import AmiTestClient, mqtt_collector

pytestmark = pytest.mark.asterisk


@pytest.fixture
def softphone(engine: EngineProcess, tmp_path: Path) -> Iterator[BaresipPhone]:
    seed = next(a for a in engine.cfg.agents if a.id == "1002")
    phone = BaresipPhone(
        user="1002",
        password=seed.sip_password,
        registrar=f"127.0.0.1:{PORTS['sip']}",
        workdir=tmp_path / "baresip-1002",
        sip_port=PORTS["sip"] + 100,
        ctrl_port=PORTS["sip"] + 110,
    )
    try:
        phone.start()
    except BaresipError as exc:
        phone.stop()
        pytest.fail(f"the baresip softphone could not start and register: {exc}")
    yield phone
    phone.stop()


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def test_softphone_agent_answers_talks_and_hangs_up(
    engine: EngineProcess, ami: AmiTestClient, softphone: BaresipPhone
) -> None:
    async with mqtt_collector(engine.cfg) as mqtt:
        engine.agent("1002", "login")
        engine.agent("1002", "ready")
        await ami.call_12345("13812345678", dtmf="2", variables={"TEST_PLAY": "hotline/greeting"})
        call_id = await arrived_call_id(mqtt, "13812345678")
        await mqtt.wait_for(f"/calls/{call_id}/offered", timeout=30)
        incoming = await softphone.wait_event("CALL_ESTABLISHED", timeout=20)
        assert incoming["direction"] == "incoming"
        await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=10)
        await asyncio.sleep(3.0)  # the citizen talks to the agent
        softphone.hangup()  # the agent ends the call
        await softphone.wait_event("CALL_CLOSED", timeout=10)
        await mqtt.wait_for(f"/calls/{call_id}/ended", timeout=15)
        record = await wait_record(engine, call_id)

    assert record.outcome is CallOutcome.ANSWERED
    assert record.agent_id == "1002"
    assert record.skill == "request"
    # The phone heard the citizen: the received audio is not silence.
    heard = softphone.heard_files()
    assert heard, f"baresip wrote no received-audio file:\n{softphone.log_tail()}"
    assert max(wav_rms(f) for f in heard) > 100, "the agent's phone received only silence"
    states = [p["state"] for p in mqtt.find("/agents/1002/state")]
    assert states[-1] in ("wrap_up", "ready"), states
