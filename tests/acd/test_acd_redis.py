"""The ACD snapshot store against the real Redis (database 15, a key prefix of its own)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.events import AgentLoggedIn, AgentReady, CallQueued
from hotline.acd.store import RedisAcdStore
from hotline.base.credentials import sign
from hotline.base.localservices import redis_client_kwargs
from tests.conftest import HotlineSetup

KEY = b"test-signing-key"


@pytest.fixture
async def client(hotline_setup: HotlineSetup) -> AsyncIterator[aioredis.Redis]:
    """The test centre's own Redis (its ACL user; keys under its prefix only)."""
    cfg = hotline_setup.cfg
    client = aioredis.from_url(cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(cfg))
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        pytest.fail(f"Redis at {cfg.redis.url} is not reachable: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
def prefix(hotline_setup: HotlineSetup) -> str:
    return f"{hotline_setup.cfg.redis.key_prefix}store-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
async def store(client: aioredis.Redis, prefix: str) -> AsyncIterator[RedisAcdStore]:
    yield RedisAcdStore(client, prefix, KEY)
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


async def test_key_prefix_keeps_centres_apart(client: aioredis.Redis, prefix: str) -> None:
    one, two = RedisAcdStore(client, f"{prefix}a:", KEY), RedisAcdStore(client, f"{prefix}b:", KEY)
    try:
        await one.save({"acd": {"centre": "a"}})
        assert await two.load() is None
        assert await one.load() == {"acd": {"centre": "a"}}
    finally:
        await one.clear()
        await two.clear()


async def test_a_planted_or_corrupt_snapshot_is_refused_with_a_log_line(
    store: RedisAcdStore, client: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    good = service_snapshot()
    planted_seat = json.loads(json.dumps(good))
    planted_seat["acd"]["agents"][0]["seat"] = "PJSIP/1001\r\n\r\nAction: Originate"
    cases = {
        # Someone with write access to Redis: plain JSON, or another key's signature.
        "unsigned": json.dumps(planted_seat).encode(),
        "wrong signature": b"0" * 64 + b"." + json.dumps(planted_seat).encode(),
        "signed for another key": RedisAcdStore(client, "elsewhere:", KEY).encode(planted_seat),
        # Signed (a bug, a half write, an old version) but not the engine's structure.
        "not JSON": sign(KEY, store.key, b'{"acd": {').encode() + b'.{"acd": {',
        "not an object": store.encode([1, 2]),  # type: ignore[arg-type]
        "a leg with a number for its id": store.encode(
            {**good, "legs": {"x": {"leg_id": 1, "call_id": "c", "agent_id": "a"}}}
        ),
        "a tracked call without its caller": store.encode(
            {**good, "calls": {"c": {"call_id": "c", "channel": "x"}}}
        ),
        "an unknown section": store.encode({**good, "extra": {}}),
    }
    for what, raw in cases.items():
        caplog.clear()
        await client.set(store.key, raw)
        assert await store.load() is None, what
        assert any("ACD snapshot in Redis" in r.message and "refused" in r.message
                   for r in caplog.records), what  # fmt: skip
    await store.save(good)
    assert await store.load() == json.loads(json.dumps(good))
