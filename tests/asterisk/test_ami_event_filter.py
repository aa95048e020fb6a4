"""Through the real Asterisk: the engine's AMI login is sent only the events the engine reads
(manager.conf's eventfilter, hotline/asterisk/ami/events.py ENGINE_EVENTS), and answered calls
still go
through. Prints the events and bytes per call the engine's login received (figures only)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from panoramisk import Manager

from hotline.app.engine import ami_secret
from hotline.asterisk.ami.events import ENGINE_EVENTS, ENGINE_USER_EVENT_PREFIX
from tests.calls.test_call_path import arrived_call_id, wait_record
from tests.conftest import EngineProcess
from tests.support.calls import AmiTestClient, mqtt_collector

pytestmark = pytest.mark.asterisk


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def engine_login(engine: EngineProcess, seen: list[dict[str, Any]]) -> Manager:
    """A second session with the engine's own credentials: it gets the same filters."""
    manager = Manager(
        host=engine.cfg.ami.host,
        port=engine.cfg.ami.port,
        username=engine.cfg.ami.username,
        secret=ami_secret(engine.cfg),
        ping_delay=3600,
    )
    manager.loop = asyncio.get_running_loop()
    manager.register_event("*", lambda _m, ev: seen.append(dict(ev)))
    await manager.connect()
    deadline = time.monotonic() + 10
    while not manager.authenticated and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert manager.authenticated, "could not log in with the engine's AMI credentials"
    return manager


def size(event: dict[str, Any]) -> int:
    return sum(len(f"{k}: {v}\r\n".encode()) for k, v in event.items()) + 2


async def test_the_engine_login_gets_only_the_events_it_reads(
    engine: EngineProcess, ami: AmiTestClient
) -> None:
    seen: list[dict[str, Any]] = []
    manager = await engine_login(engine, seen)
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            engine.agent("1001", "login")
            engine.agent("1001", "ready")
            await asyncio.sleep(0.5)
            seen.clear()  # from here: the calls only
            calls = 3
            for n in range(calls):
                caller = f"1380013800{n}"
                await ami.call_12345(caller, dtmf="1")
                call_id = await arrived_call_id(mqtt, caller)
                _t, queued = await mqtt.wait_for(f"/calls/{call_id}/queued")
                await mqtt.wait_for(f"/calls/{call_id}/answered", timeout=30)
                await asyncio.sleep(1.0)
                await ami.hangup(queued["channel"])
                await wait_record(engine, call_id)
                for _ in range(100):  # wrap-up over: ready for the next call
                    states = [p["state"] for p in mqtt.find("/agents/1001/state")]
                    if states and states[-1] in ("ready", "wrap_up"):
                        break
                    await asyncio.sleep(0.1)
                engine.agent("1001", "ready")
            await asyncio.sleep(1.0)
    finally:
        manager.close()
    names: dict[str, int] = {}
    for ev in seen:
        name = str(ev.get("Event"))
        if name == "UserEvent":
            name = f"UserEvent/{ev.get('UserEvent')}"
        names[name] = names.get(name, 0) + 1
    print(
        f"\nengine AMI login: {len(seen) / calls:.1f} events and "
        f"{sum(map(size, seen)) / calls / 1024:.1f} KB per answered call; by name: {names}"
    )
    unread = {
        n
        for n in names
        if n not in ENGINE_EVENTS
        and not n.startswith(f"UserEvent/{ENGINE_USER_EVENT_PREFIX}")
        and n != "FullyBooted"  # written at log-in, outside the filters
    }
    assert not unread, f"the engine's login was sent events it never reads: {sorted(unread)}"
