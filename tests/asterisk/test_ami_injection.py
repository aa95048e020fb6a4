"""A seat with CR/LF in it must never become a second AMI action (issue 13, item 2).

A bearer-token holder once could log an agent in at ``<seat>\\r\\n\\r\\nAction: ...``: the next
Originate to that agent carried the text into the AMI stream as an action of its own. Here the
injected action is a UserEvent the test's own AMI login can see; against the real Asterisk.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis

from hotline.acd.core import Acd
from hotline.acd.events import AgentLoggedIn, AgentReady
from hotline.base.credentials import sign, signing_key
from hotline.base.localservices import redis_client_kwargs
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, user_event

pytestmark = pytest.mark.asterisk

SEAT = "Local/1001@test-phone"  # agent 1001's configured seat: rings 1 s, then answers
INJECTED = (
    f"{SEAT}\r\n\r\nAction: UserEvent\r\nUserEvent: HotlineInjected\r\n\r\n"
    "Action: Originate\r\nChannel: Local/1002@test-phone\r\nApplication: System\r\n"
    "Data: touch /tmp/hotline-injected"
)


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


def post(engine: EngineProcess, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    try:
        return 200, engine.api("POST", path, body)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def injected_or_answered(ev: dict[str, Any]) -> bool:
    return ev.get("Event") == "UserEvent" and ev.get("UserEvent") in (
        "HotlineInjected",
        "HotlineAgentAnswered",
    )


async def test_a_seat_with_crlf_is_refused_and_no_second_action_reaches_asterisk(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    code, body = post(engine, "/api/v1/agents/1001/login", {"seat": INJECTED})
    if code != 200:  # refused (the fix): the agent logs in at its own seat instead
        engine.agent("1001", "login")
    engine.agent("1001", "ready")
    await ami.call_12345("13800138031", dtmf="1")
    # Either the offer rang the agent (its leg answered) or the injected action ran.
    await ami.wait_event(injected_or_answered, timeout=30)
    await ami.wait_event(user_event("HotlineQueued"), timeout=5)
    injected = [e for e in ami.events if e.get("UserEvent") == "HotlineInjected"]
    assert not injected, f"a second AMI action reached Asterisk: {injected}"
    assert code == 400 and "configured" in body["error"], (code, body)
    # Any other seat that is not configured is refused the same way.
    code, body = post(engine, "/api/v1/agents/1001/login", {"seat": "PJSIP/9999"})
    assert code == 400, (code, body)
    status = engine.status()
    seats = {a["agent_id"]: a["seat"] for a in status["agents"]}
    assert seats.get("1001") == SEAT, status["agents"]


def test_a_planted_snapshot_with_an_unconfigured_seat_is_not_used(
    asterisk: Any, hotline_setup: HotlineSetup, request: pytest.FixtureRequest
) -> None:
    """A snapshot that passes the signature (an older engine's, or a stolen key) still may not
    bring an unconfigured seat back: the engine refuses it (defence in depth)."""
    cfg = hotline_setup.cfg
    _flush_redis_prefix(cfg)
    acd = Acd()
    acd.handle(AgentLoggedIn(agent_id="1001", seat=INJECTED, skills=(("general", 1),), at=1.0))
    acd.handle(AgentReady(agent_id="1001", at=1.0))
    client = redis.Redis.from_url(cfg.redis.url, **redis_client_kwargs(cfg))
    key = f"{cfg.redis.key_prefix}acd:snapshot"
    data = json.dumps({"acd": acd.snapshot()}).encode()
    try:
        client.set(key, sign(signing_key(cfg), key, data).encode() + b"." + data)
    finally:
        client.close()
    engine = EngineProcess(hotline_setup, request.node.name)
    engine.start()
    try:
        assert engine.status()["agents"] == [], engine.status()["agents"]
        assert "ACD snapshot in Redis refused" in engine.log_tail(200)
        assert "not a configured dial string" in engine.log_tail(200)
    finally:
        engine.stop()
