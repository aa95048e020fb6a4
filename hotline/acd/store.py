"""Where the ACD's state survives an engine restart: one JSON document in Redis.

The whole state is written under one key (after events, coalesced by the service), so it is
always one consistent snapshot (never half of one event applied), and a restarted engine reads
it back in one GET.

The document is signed (HMAC-SHA256 under a key in <state_dir>/secrets, bound to the Redis key)
and checked before use: a snapshot someone else wrote into Redis, or a corrupt one, is refused
with one log line and the engine starts from Asterisk's live state (it requeues the callers it
finds waiting there) instead of trusting seats, numbers or channels it did not write.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, ValidationError

from hotline.base.credentials import sign, verify
from hotline.calls.tracker import CallInProgress

log = logging.getLogger(__name__)


class NotHolder(Exception):
    """A fenced save refused: the lease in Redis is not (or no longer) this engine's."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Leg(_Strict):
    leg_id: str
    call_id: str
    agent_id: str
    answered: bool = False
    kind: str = "offer"
    attempt: int = 0
    channel: str = ""


class _Tracked(_Strict):
    """hotline.calls.tracker.CallInProgress, field by field (a unit test keeps them in step)."""

    call_id: str
    linked_id: str
    caller: str
    dialled: str
    channel: str
    arrived_at: float
    ivr_exit_at: float | None = None
    queued_at: float | None = None
    answered_at: float | None = None
    agent_id: str | None = None
    ivr_path: str = ""
    skill: str = ""
    outcome_hint: str = ""
    speech_text: str = ""
    satisfaction: str = ""
    linkage: str = ""
    double_non: bool = False


class _Snapshot(_Strict):
    acd: dict[str, Any]  # the core's own restore() checks every field of it (AcdError)
    legs: dict[str, _Leg] = {}
    calls: dict[str, _Tracked] = {}


TRACKED_FIELDS = {f.name for f in fields(CallInProgress)}


def check_snapshot(data: Any) -> dict[str, Any]:
    """The snapshot if its structure is the engine's; ValueError saying what is wrong."""
    try:
        snap = _Snapshot.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValueError(f"{where}: {first['msg']}") from None
    del snap
    assert isinstance(data, dict)  # model_validate accepts nothing else
    return data


# With a standby engine the snapshot is written only while the lease in Redis is still the
# writer's (checked in the same atomic step): a save from an engine that lost the lease, held
# up on the network or run after a pause, cannot overwrite the new leader's state.
_FENCED_SET = """
if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


class RedisAcdStore:
    def __init__(
        self,
        client: aioredis.Redis,
        key_prefix: str = "hotline:",
        signing_key: bytes = b"",
        *,
        fence: Callable[[], tuple[str, str] | None] | None = None,
    ) -> None:
        if not signing_key:
            raise ValueError("the ACD snapshot store needs a signing key")
        self._client = client
        self.key = f"{key_prefix}acd:snapshot"
        self._signing_key = signing_key
        self._fence = fence
        """None: one engine. Else (lease key, our lease value), or None while not leading."""
        self._fenced_set = client.register_script(_FENCED_SET)
        self.refused_saves = 0
        self.last_encode_s = 0.0
        """CPU seconds the last encode took (the service spaces its saves by it)."""

    def encode(self, snapshot: dict[str, Any]) -> bytes:
        started = time.thread_time()
        data = json.dumps(snapshot, separators=(",", ":")).encode()
        signed = sign(self._signing_key, self.key, data).encode() + b"." + data
        self.last_encode_s = time.thread_time() - started
        return signed

    async def save(self, snapshot: dict[str, Any]) -> None:
        # Serialise before touching Redis: a state that is not JSON fails here, loudly, and
        # leaves the last good snapshot in place.
        data = self.encode(snapshot)
        if self._fence is None:
            await self._client.set(self.key, data)
            return
        lease = self._fence()
        saved = lease is not None and await self._fenced_set(
            keys=[self.key, lease[0]], args=[data, lease[1]]
        )
        if not saved:
            self.refused_saves += 1
            raise NotHolder("ACD snapshot not saved: this engine does not hold the lease")

    async def load(self) -> dict[str, Any] | None:
        """The saved snapshot; None if there is none, or if it is refused (logged)."""
        raw = await self._client.get(self.key)
        if raw is None:
            return None
        signature, _, data = (raw.encode() if isinstance(raw, str) else raw).partition(b".")
        if not verify(self._signing_key, self.key, data, signature.decode(errors="replace")):
            log.error(
                "ACD snapshot in Redis (%s) refused: not signed by this centre; starting from "
                "Asterisk's live state",
                self.key,
            )
            return None
        try:
            return check_snapshot(json.loads(data))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            log.error(
                "ACD snapshot in Redis (%s) refused: %s; starting from Asterisk's live state",
                self.key,
                exc,
            )
            return None

    async def clear(self) -> None:
        await self._client.delete(self.key)
