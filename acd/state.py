"""Where the ACD's state survives an engine restart: one JSON document in Redis.

The whole state is written under one key after every event, so it is always one consistent
snapshot (never half of one event applied), and a restarted engine reads it back in one GET.
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis


class RedisAcdStore:
    def __init__(self, client: aioredis.Redis, key_prefix: str = "hotline:") -> None:
        self._client = client
        self.key = f"{key_prefix}acd:snapshot"

    async def save(self, snapshot: dict[str, Any]) -> None:
        # Serialise before touching Redis: a state that is not JSON fails here, loudly, and
        # leaves the last good snapshot in place.
        await self._client.set(self.key, json.dumps(snapshot, separators=(",", ":")))

    async def load(self) -> dict[str, Any] | None:
        raw = await self._client.get(self.key)
        if raw is None:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError(f"Redis key {self.key!r} does not hold a JSON object")
        return data

    async def clear(self) -> None:
        await self._client.delete(self.key)
