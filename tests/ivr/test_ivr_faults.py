"""An exception inside the IVR must send the caller to the default queue, never to dead air."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.asterisk.agi import AgiChannel
from hotline.asterisk.agiserver import FastAgiServer
from tests.conftest import HotlineSetup
from tests.support.calls import AmiTestClient, user_event

pytestmark = pytest.mark.asterisk


async def test_exception_inside_the_ivr_sends_the_caller_to_the_queue(
    asterisk: Any, hotline_setup: HotlineSetup
) -> None:
    cfg = hotline_setup.cfg
    calls: list[str] = []

    async def broken_flow(channel: AgiChannel) -> None:
        calls.append(channel.unique_id)
        await channel.stream_file("hotline/greeting")
        raise RuntimeError("bug in a menu")

    server = FastAgiServer({"ivr": broken_flow}, "general", cfg.fastagi.host, cfg.fastagi.port)
    await server.start()
    ami = AmiTestClient(cfg)
    await ami.connect()
    try:
        await ami.call_12345("13200132000", dtmf="", hold=8)
        queued = await ami.wait_event(user_event("HotlineQueued"), timeout=30)
        assert calls, "the IVR was never reached"
        assert queued["Skill"] == "general"
        exit_ev = next(e for e in ami.events if e.get("UserEvent") == "HotlineIvrExit")
        assert exit_ev["IvrPath"] == "fallback:ivr-error"
        assert server.failures == 1
        await ami.hangup(queued["Channel"])
    finally:
        ami.close()
        await server.stop()
