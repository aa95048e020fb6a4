"""Test-side clients: an AMI connection that places citizen calls, an MQTT event collector."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
from panoramisk import Manager

from hotline.asterisk.render import ami_test_username
from hotline.base.credentials import mqtt_password
from hotline.base.secrets import stored_secret
from hotline.base.settings import Config


@dataclass
class AmiTestClient:
    """A second, independent AMI login used by tests to place and hang up calls."""

    cfg: Config
    events: list[dict[str, Any]] = field(default_factory=list)
    manager: Manager | None = None

    async def connect(self) -> None:
        self.manager = Manager(
            host=self.cfg.ami.host,
            port=self.cfg.ami.port,
            # The tests' own login (asterisk.test_contexts): the engine's may not read dialplan
            # or DTMF events.
            username=ami_test_username(self.cfg),
            secret=stored_secret(self.cfg.paths.state_dir, "ami-test-secret"),
            ping_delay=3600,
        )
        self.manager.loop = asyncio.get_running_loop()
        self.manager.register_event("*", lambda _m, ev: self.events.append(dict(ev)))
        await self.manager.connect()
        deadline = time.monotonic() + 10
        while not self.manager.authenticated and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert self.manager.authenticated, "test AMI client could not log in"

    def close(self) -> None:
        if self.manager is not None:
            self.manager.reconnect_timeout = 10**9
            self.manager.close()

    async def send(self, action: dict[str, Any], timeout: float = 10) -> Any:
        assert self.manager is not None
        return await asyncio.wait_for(self.manager.send_action(action), timeout)

    async def call_12345(
        self,
        caller: str,
        dtmf: str = "",
        dtmf_delay: float = 3,
        hold: float = 120,
        variables: dict[str, str] | None = None,
    ) -> None:
        """A citizen dials 12345: the test-caller leg answers, presses keys, then holds."""
        var = [f"TEST_DTMF={dtmf}", f"TEST_DTMF_DELAY={dtmf_delay}", f"TEST_HOLD={hold}"]
        var += [f"{k}={v}" for k, v in (variables or {}).items()]
        resp = await self.send(
            {
                "Action": "Originate",
                "Channel": "Local/12345@citizen",
                "Context": "test-caller",
                "Exten": "s",
                "Priority": "1",
                "CallerID": f"{caller} <{caller}>",
                "Variable": var,
                "Async": "true",
            },
            timeout=15,
        )
        first = resp[0] if isinstance(resp, list) else resp
        assert first.success, f"Originate refused: {first}"

    async def hangup(self, channel: str) -> None:
        await self.send({"Action": "Hangup", "Channel": channel})

    async def wait_event(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for ev in self.events[seen:]:
                if pred(ev):
                    return ev
            seen = len(self.events)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching AMI event within {timeout} s")


def user_event(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda ev: ev.get("Event") == "UserEvent" and ev.get("UserEvent") == name


@dataclass
class MqttCollector:
    cfg: Config
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def topics(self) -> list[str]:
        return [t for t, _ in self.messages]

    def find(self, suffix: str) -> list[dict[str, Any]]:
        return [p for t, p in self.messages if t.endswith(suffix)]

    async def wait_for(
        self,
        suffix: str,
        timeout: float = 30,
        pred: Callable[[dict[str, Any]], bool] = lambda _p: True,
    ) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for topic, payload in self.messages:
                if topic.endswith(suffix) and pred(payload):
                    return topic, payload
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"no MQTT message on *{suffix} within {timeout} s; got {self.topics()}"
        )


@contextlib.asynccontextmanager
async def mqtt_collector(cfg: Config) -> AsyncIterator[MqttCollector]:
    collector = MqttCollector(cfg)
    ready = asyncio.Event()

    async def run() -> None:
        # The engine's user on the private feed: every event whole (numbers, speech included).
        async with aiomqtt.Client(
            hostname=cfg.mqtt.host,
            port=cfg.mqtt.port,
            username=cfg.mqtt.username,
            password=mqtt_password(cfg),
        ) as client:
            await client.subscribe(f"{cfg.mqtt.topic_prefix}/private/#", qos=1)
            ready.set()
            async for message in client.messages:
                payload = message.payload
                assert isinstance(payload, bytes | bytearray)
                collector.messages.append((str(message.topic), json.loads(payload)))

    task = asyncio.ensure_future(run())
    try:
        await asyncio.wait_for(ready.wait(), 10)
    except TimeoutError:
        task.cancel()
        raise AssertionError(
            f"MQTT broker at {cfg.mqtt.host}:{cfg.mqtt.port} not reachable"
        ) from None
    try:
        yield collector
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
