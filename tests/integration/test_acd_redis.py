"""The ACD snapshot store against the real Redis (database 15, a key prefix of its own)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

from acd.core import Acd, AcdPolicy
from acd.events import AgentLoggedIn, AgentReady, CallQueued
from acd.state import RedisAcdStore

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        pytest.fail(f"Redis at {REDIS_URL} is not reachable: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def store(client: aioredis.Redis) -> AsyncIterator[RedisAcdStore]:
    prefix = f"hotline-test-{uuid.uuid4().hex[:8]}:"
    yield RedisAcdStore(client, prefix)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)


def service_snapshot() -> dict[str, object]:
    """The wrapper the ACD service saves: core snapshot, agent legs, calls in progress."""
    acd = Acd(AcdPolicy())
    acd.handle(AgentLoggedIn(agent_id="1001", seat="PJSIP/1001", skills=(("general", 3),), at=1.0))
    acd.handle(AgentReady(agent_id="1001", at=2.0))
    for n, caller in enumerate(["13800000001", "张三"]):
        acd.handle(
            CallQueued(
                call_id=f"1700000000.{n}",
                skill="general",
                priority=n,
                caller=caller,
                channel=f"PJSIP/trunk-0000000{n}",
                at=3.0 + n,
            )
        )
    return {
        "acd": acd.snapshot(),
        "legs": {"hl-1": {"leg_id": "hl-1", "call_id": "1700000000.1", "agent_id": "1001"}},
        "calls": {},
    }


async def test_load_before_any_save_is_none(store: RedisAcdStore) -> None:
    assert await store.load() is None


async def test_save_load_clear_round_trip(store: RedisAcdStore, client: aioredis.Redis) -> None:
    snap = service_snapshot()
    await store.save(snap)
    assert await client.exists(store.key) == 1
    assert store.key.endswith("acd:snapshot")
    loaded = await store.load()
    assert loaded == json.loads(json.dumps(snap))
    assert loaded is not None
    acd = Acd.restore(loaded["acd"], AcdPolicy())
    assert acd.snapshot() == snap["acd"]
    assert [c.caller for c in acd.waiting_calls()] == ["张三", "13800000001"]

    await store.clear()
    assert await store.load() is None
    assert await client.exists(store.key) == 0
    await store.clear()  # clearing nothing is fine


async def test_save_replaces_the_previous_snapshot(store: RedisAcdStore) -> None:
    await store.save({"acd": {"version": 1}, "legs": {"x": {}}, "calls": {}})
    await store.save({"acd": {"version": 1}, "legs": {}, "calls": {}})
    assert await store.load() == {"acd": {"version": 1}, "legs": {}, "calls": {}}


async def test_key_prefix_keeps_centres_apart(client: aioredis.Redis) -> None:
    prefix = f"hotline-test-{uuid.uuid4().hex[:8]}"
    one, two = RedisAcdStore(client, f"{prefix}-a:"), RedisAcdStore(client, f"{prefix}-b:")
    try:
        await one.save({"centre": "a"})
        assert await two.load() is None
        assert await one.load() == {"centre": "a"}
    finally:
        await one.clear()
        await two.clear()
