"""Every service asks for credentials (issue 13, item 3).

The test centre's own Redis and Mosquitto are started by ``hotline_setup`` (tests/conftest.py)
through hotline.base.localservices, as ``hotline up`` starts them: generated passwords in
<state_dir>/secrets, on ports of their own (the machine's open 6379/1883 are not used). Here:
anonymous and wrong-password clients are refused; the display user reads call events without a
caller's number, what they said or a voicemail's text, while the engine's user gets them whole;
a session record or an ACD snapshot planted in Redis is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import stat
import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import aiomqtt
import pytest
import redis
import redis.asyncio as aioredis

from hotline.acd.events import MissedCallListed, PlaceCallback
from hotline.acd.notifier import AcdNotifier
from hotline.base.bus import EventBus
from hotline.base.credentials import mqtt_display_password, mqtt_password, sign, signing_key
from hotline.base.localservices import redis_client_kwargs
from hotline.base.settings import Config
from hotline.base.web.sessions import SessionStore
from hotline.desk.session_store import DeskSessions, RedisSessionBacking
from hotline.recordings.notifier import VoicemailNotifier
from hotline.tickets.lifecycle import TicketState
from tests.calls.test_call_path import arrived_call_id
from tests.conftest import EngineProcess, HotlineSetup
from tests.support.calls import AmiTestClient, mqtt_collector

NUMBER = "13912345678"
SAID = "楼下饭店油烟太大我住三单元"


def redis_client(cfg: Config, **auth: Any) -> aioredis.Redis:
    return aioredis.from_url(cfg.redis.url, socket_connect_timeout=3, **auth)


# -- Redis ---------------------------------------------------------------------------------------


async def test_redis_refuses_anonymous_and_wrong_password_clients(
    hotline_setup: HotlineSetup,
) -> None:
    cfg = hotline_setup.cfg
    for auth in [
        {},  # anonymous
        {"username": cfg.redis.username, "password": "guess"},
        {"username": "default", "password": "guess"},
    ]:
        client = redis_client(cfg, **auth)
        try:
            with pytest.raises(redis.AuthenticationError):  # NOAUTH, or WRONGPASS
                await client.set(f"{cfg.redis.key_prefix}planted", "x")
        finally:
            await client.aclose()

    client = redis_client(cfg, **redis_client_kwargs(cfg))
    try:
        assert await client.ping()
        # The engine's user: only the centre's keys, no admin or dangerous commands.
        with pytest.raises(redis.exceptions.NoPermissionError):
            await client.set("someone-elses-key", "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            await client.flushall()
        with pytest.raises(redis.exceptions.NoPermissionError):
            await client.config_get("*")
    finally:
        await client.aclose()


def test_secrets_are_private_files(hotline_setup: HotlineSetup) -> None:
    secrets = hotline_setup.state_dir / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    names = {p.name for p in secrets.iterdir()}
    assert {"redis-password", "mqtt-engine-password", "mqtt-display-password"} <= names
    for path in secrets.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for service in ("redis", "mosquitto"):
        folder = hotline_setup.state_dir / service
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for path in folder.glob("*.conf"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Mosquitto's password file holds hashes, not the passwords.
    passwd = (hotline_setup.state_dir / "mosquitto" / "passwd").read_text()
    assert mqtt_password(hotline_setup.cfg) not in passwd and "$7$" in passwd


# -- MQTT ----------------------------------------------------------------------------------------


def mqtt_client(cfg: Config, username: str | None, password: str | None) -> aiomqtt.Client:
    return aiomqtt.Client(
        hostname=cfg.mqtt.host, port=cfg.mqtt.port, username=username, password=password,
        timeout=5,
    )  # fmt: skip


async def test_mosquitto_refuses_anonymous_and_wrong_password_clients(
    hotline_setup: HotlineSetup,
) -> None:
    cfg = hotline_setup.cfg
    for username, password in [
        (None, None),
        (cfg.mqtt.username, "guess"),
        (cfg.mqtt.display_username, "guess"),
        ("nobody", mqtt_password(cfg)),
    ]:
        with pytest.raises(aiomqtt.MqttError) as refused:
            async with mqtt_client(cfg, username, password):
                pass
        assert "authori" in str(refused.value).lower() or "5" in str(refused.value)


class Listener:
    """A client subscribed to some topic filters, keeping what arrives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def text(self) -> str:
        return "\n".join(f"{t} {p.decode(errors='replace')}" for t, p in self.messages)

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]

    async def until(self, suffix: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(t.endswith(suffix) for t in self.topics()):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"nothing on *{suffix} within {timeout} s; got {self.topics()}")


@contextlib.asynccontextmanager
async def listening(
    cfg: Config, username: str, password: str, filters: list[str]
) -> AsyncIterator[Listener]:
    listener = Listener()
    ready = asyncio.Event()

    async def run() -> None:
        async with mqtt_client(cfg, username, password) as client:
            for topic_filter in filters:
                await client.subscribe(topic_filter, qos=1)
            ready.set()
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes | bytearray)
                listener.messages.append((str(message.topic), bytes(payload)))

    task = asyncio.ensure_future(run())
    try:
        await asyncio.wait_for(ready.wait(), 10)
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise AssertionError(f"{username} could not listen: {task.exception()}")


def display(cfg: Config) -> Any:
    # Everything a display may try: the whole broker, the centre's tree, the private feed.
    p = cfg.mqtt.topic_prefix
    return listening(
        cfg,
        cfg.mqtt.display_username,
        mqtt_display_password(cfg),
        ["#", f"{p}/#", f"{p}/private/#"],
    )


async def test_the_display_user_never_reads_a_number_or_what_was_said(
    hotline_setup: HotlineSetup,
) -> None:
    """The engine's own notifiers publish events that carry a caller's number, their sentence
    and a voicemail's transcript: the display gets each event, stripped; the engine's user
    gets them whole on the private feed."""
    cfg = hotline_setup.cfg
    bus = EventBus(cfg.mqtt, mqtt_password(cfg))
    runner = asyncio.ensure_future(bus.run())
    call_id = f"1796000000.{uuid.uuid4().hex[:6]}"
    p = cfg.mqtt.topic_prefix
    try:
        async with (
            display(cfg) as shown,
            listening(cfg, cfg.mqtt.username, mqtt_password(cfg), [f"{p}/private/#"]) as whole,
        ):
            acd = AcdNotifier(bus)
            acd.call_arrived(call_id, NUMBER, "12345", time.time())
            acd.call_speech(call_id, SAID, "environment", "complaint", "")
            acd.decision(
                PlaceCallback(call_id=call_id, agent_id="1001", seat="PJSIP/1001",
                              number=NUMBER, attempt=1, ring_timeout_s=30, at=time.time())
            )  # fmt: skip
            acd.decision(
                MissedCallListed(call_id=call_id, number=NUMBER, waited_s=40, at=time.time())
            )
            message = SimpleNamespace(
                call_id=call_id, caller=NUMBER, ivr_path="hours>voicemail", transcript=SAID
            )
            ticket = SimpleNamespace(
                number="202612070000011", state=TicketState.VOICEMAIL_REVIEW,
                handling_type="normal",
            )  # fmt: skip
            VoicemailNotifier(bus).ticket_created(message, ticket, "voicemail/x.wav")  # type: ignore[arg-type]
            bus.publish(("metrics", "all"), {"interval": {"offered": 1}, "today": {}})
            await whole.until("/private/metrics/all")
            await shown.until(f"{p}/metrics/all")
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner

    assert NUMBER in whole.text() and SAID in whole.text()
    for kind in ("arrived", "speech", "place_callback", "missed_call_listed", "voicemail_ticket"):
        assert f"{p}/calls/{call_id}/{kind}" in shown.topics(), shown.topics()
    assert not any("/private/" in t for t in shown.topics())
    assert NUMBER not in shown.text() and SAID not in shown.text(), shown.text()
    speech = next(json.loads(b) for t, b in shown.messages if t.endswith("/speech"))
    assert speech["subject"] == "environment"  # what a wallboard may show stays


async def test_the_display_user_cannot_publish(hotline_setup: HotlineSetup) -> None:
    cfg = hotline_setup.cfg
    p = cfg.mqtt.topic_prefix
    async with listening(cfg, cfg.mqtt.username, mqtt_password(cfg), [f"{p}/#"]) as engine_side:
        async with mqtt_client(cfg, cfg.mqtt.display_username, mqtt_display_password(cfg)) as c:
            await c.publish(f"{p}/agents/1001/state", b'{"state": "forged"}', qos=1)
        async with mqtt_client(cfg, cfg.mqtt.username, mqtt_password(cfg)) as c:
            await c.publish(f"{p}/agents/marker/state", b"{}", qos=1)
        await engine_side.until("/agents/marker/state")
    assert "forged" not in engine_side.text()


@pytest.mark.asterisk
async def test_a_display_subscribed_to_everything_during_a_real_call_sees_no_number(
    engine: EngineProcess,
) -> None:
    cfg = engine.cfg
    ami = AmiTestClient(cfg)
    await ami.connect()
    try:
        async with display(cfg) as shown, mqtt_collector(cfg) as mqtt:
            await ami.call_12345(NUMBER, dtmf="1", hold=30)
            call_id = await arrived_call_id(mqtt, NUMBER)  # the engine's user has it
            _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued", timeout=20)
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
            await ami.hangup(str(queued["channel"]))
            await mqtt.wait_for(f"/calls/{call_id}/ended", timeout=20)
            await shown.until(f"/calls/{call_id}/ended")
    finally:
        ami.close()
    p = cfg.mqtt.topic_prefix
    assert f"{p}/calls/{call_id}/arrived" in shown.topics()
    assert NUMBER not in shown.text(), shown.text()


# -- records planted in Redis ----------------------------------------------------------------------


def planted_session() -> bytes:
    fields = {
        "user": "super1", "role": "supervisor", "agent_id": None, "unit": None,
        "csrf": "x", "created_at": time.time(), "seen_at": time.time(), "lang": "zh",
    }  # fmt: skip
    return json.dumps(fields).encode()


async def test_a_session_record_planted_in_redis_is_refused(hotline_setup: HotlineSetup) -> None:
    cfg = hotline_setup.cfg
    client = redis_client(cfg, **redis_client_kwargs(cfg))
    prefix = f"{cfg.redis.key_prefix}sessions-{uuid.uuid4().hex[:6]}:"
    backing = RedisSessionBacking(client, prefix, signing_key=signing_key(cfg))
    try:
        for what, value in {
            "unsigned": planted_session(),
            "a made-up signature": b"0" * 64 + b"." + planted_session(),
            "signed with another key": RedisSessionBacking(
                client, prefix, signing_key=b"another centre"
            ).signed(backing.key("planted"), planted_session()),
        }.items():
            await client.set(backing.key("planted"), value)
            sessions = DeskSessions(SessionStore(time.time), backing)  # a restarted engine
            assert await sessions.get("planted") is None, what
        # The engine's own record still comes back after a restart.
        own = await DeskSessions(SessionStore(time.time), backing).open("a1", "agent", "1001", None)
        found = await DeskSessions(SessionStore(time.time), backing).get(own.sid)
        assert found is not None and found.user == "a1"
        # ... but not under another session's key.
        await client.set(backing.key("planted"), await client.get(backing.key(own.sid)) or b"")
        assert await DeskSessions(SessionStore(time.time), backing).get("planted") is None
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.mark.asterisk
async def test_the_engine_refuses_a_planted_session_and_a_corrupt_snapshot(
    engine: EngineProcess,
) -> None:
    cfg = engine.cfg
    sync = redis.Redis.from_url(cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(cfg))
    try:
        # A supervisor's session written into Redis by someone who is not the engine.
        digest = hashlib.sha256(b"planted-sid").hexdigest()
        sync.set(f"{cfg.redis.key_prefix}desk:session:{digest}", planted_session())
        async with aiohttp.ClientSession(cookies={"hl_session": "planted-sid"}) as http:
            async with http.get(f"{engine.base}/desk/api/me", allow_redirects=False) as me:
                assert me.status in (303, 401), (me.status, await me.text())

        # A snapshot with a caller waiting at a seat that injects an AMI action, unsigned.
        engine.stop()
        planted = {
            "acd": {"version": 2, "agents": [], "calls": []},
            "legs": {},
            "calls": {"x": {"call_id": "x", "linked_id": "x", "caller": NUMBER, "dialled": "1",
                            "channel": "PJSIP/1001\r\nAction: Originate", "arrived_at": 1.0}},
        }  # fmt: skip
        key = f"{cfg.redis.key_prefix}acd:snapshot"
        # Signed by the engine's key (a bug, an older version) but not an ACD the core restores.
        odd = json.dumps({"acd": {"version": 999}, "legs": {}, "calls": {}})
        cases = {
            "planted": json.dumps(planted),
            "corrupt": "\x00{not json",
            "signed but not the core's": f"{sign(signing_key(cfg), key, odd.encode())}.{odd}",
        }
        for what, value in cases.items():
            sync.set(key, value)
            before = engine.log_path.stat().st_size
            engine.start()
            status = engine.status()
            assert status["waiting"] == [] and status["calls_in_progress"] == 0, what
            lines = engine.log_path.read_bytes()[before:].decode(errors="replace")
            assert "ACD snapshot in Redis" in lines and "refused" in lines, (what, lines[-3000:])
            engine.stop()
        engine.start()
    finally:
        sync.close()
