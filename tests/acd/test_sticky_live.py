"""Sticky routing on the real phone: a citizen calling back about an open ticket is offered
first to the agent who took it, even when another agent has been idle longer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.calls.test_call_path import arrived_call_id
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, mqtt_collector

pytestmark = pytest.mark.asterisk


@pytest.fixture
def sticky_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    monkeypatch.setenv("HOTLINE_ACD__STICKY_WAIT_S", "20")
    _flush_redis_prefix(hotline_setup.cfg)
    proc = EngineProcess(hotline_setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


async def test_a_caller_with_an_open_ticket_goes_to_the_agent_who_took_it(
    sticky_engine: EngineProcess,
) -> None:
    engine = sticky_engine
    caller = "13566667777"
    ticket = engine.api(
        "POST",
        "/api/v1/tickets",
        {
            "actor": "1001",
            "category": "help",
            "description": "路灯不亮",
            "subject_code": "02.01",
            "caller_number": caller,
        },
    )
    assert ticket["number"]
    # 1002 becomes ready first, so without stickiness it would be offered the call.
    engine.agent("1002", "login")
    engine.agent("1002", "ready")
    engine.agent("1001", "login")
    engine.agent("1001", "ready")
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(caller, dtmf="1")
            call_id = await arrived_call_id(mqtt, caller)
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=30)
            _t, offered = await mqtt.wait_for(f"/calls/{call_id}/offered", timeout=20)
            assert offered["agent_id"] == "1001", offered
            await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=20)
            await ami.hangup(queued["channel"])
            offers = [p["agent_id"] for p in mqtt.find(f"/calls/{call_id}/offered")]
            assert offers == ["1001"], offers
    finally:
        ami.close()
