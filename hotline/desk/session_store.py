"""Desktop sessions that survive an engine restart: the pure ``SessionStore`` in memory, each
session also kept in Redis (principle: state lives outside the process; a restart of the engine
must not log every agent out in the middle of a shift). The log-in limits' counts live in Redis
too (hotline/desk/login_limits.py).

Redis holds a session under the SHA-256 of its id, never the id itself: a copy of the Redis
data gives no cookie that logs anyone in. Each key expires with the session (its idle time,
capped by the time left until ``max_s``), so Redis forgets what the store would refuse anyway.
The idle clock is written back at most every ``touch_every_s`` seconds, not on every request.
Redis away: sessions go on in memory (a warning is logged); nobody is logged out for it.

Each record is signed (HMAC-SHA256 under a key in <state_dir>/secrets, bound to the record's
Redis key): a record someone else wrote into Redis, or one moved to another key, is refused
with a warning, so write access to Redis is not a way to log in as anyone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis

from hotline.base.credentials import sign, verify
from hotline.base.web.sessions import Session, SessionStore

log = logging.getLogger(__name__)


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "user": str, "role": str, "agent_id": (str, type(None)), "unit": (str, type(None)),
    "csrf": str, "created_at": (int, float), "seen_at": (int, float), "lang": str,
    "stamp": str,  # the password hash's digest at log-in: a reset ends the session
}  # fmt: skip
_OPTIONAL = frozenset({"stamp"})  # records written before the stamp existed


class RedisSessionBacking:
    def __init__(
        self, client: aioredis.Redis, key_prefix: str = "hotline:", *, signing_key: bytes
    ) -> None:
        self._client = client
        self._prefix = f"{key_prefix}desk:session:"
        self._signing_key = signing_key

    def key(self, sid: str) -> str:
        return self._prefix + hashlib.sha256(sid.encode()).hexdigest()

    async def save(self, session: Session, ttl_s: float) -> None:
        if ttl_s <= 0:
            await self.delete(session.sid)
            return
        key = self.key(session.sid)
        data = json.dumps({k: v for k, v in asdict(session).items() if k != "sid"}).encode()
        await self._client.set(key, self.signed(key, data), px=int(ttl_s * 1000))

    def signed(self, key: str, data: bytes) -> bytes:
        """What is stored: the signature, a dot, the JSON."""
        return sign(self._signing_key, key, data).encode() + b"." + data

    async def load(self, sid: str) -> Session | None:
        key = self.key(sid)
        raw = await self._client.get(key)
        if raw is None:
            return None
        signature, _, data = (raw.encode() if isinstance(raw, str) else raw).partition(b".")
        if not verify(self._signing_key, key, data, signature.decode(errors="replace")):
            log.warning(
                "desktop session record %s in Redis refused: not signed by this centre", key
            )
            return None
        try:
            fields: Any = json.loads(data)
        except ValueError:
            fields = None
        if not (
            isinstance(fields, dict)
            and set(_FIELDS) - _OPTIONAL <= set(fields) <= set(_FIELDS)
            and all(isinstance(fields[k], t) for k, t in _FIELDS.items() if k in fields)
        ):
            log.warning("desktop session record %s in Redis refused: not a session", key)
            return None
        return Session(sid=sid, **fields)

    async def delete(self, sid: str) -> None:
        await self._client.delete(self.key(sid))


class DeskSessions:
    """What the desktop's handlers use: the memory store first, Redis behind it."""

    def __init__(
        self,
        store: SessionStore,
        backing: RedisSessionBacking | None = None,
        *,
        touch_every_s: float = 60.0,
    ) -> None:
        self.store = store
        self._backing = backing
        self._touch_every_s = touch_every_s
        self._written: dict[str, float] = {}  # sid -> seen_at last written to Redis

    async def open(
        self,
        user: str,
        role: str,
        agent_id: str | None,
        unit: str | None,
        lang: str = "zh",
        stamp: str = "",
    ) -> Session:
        session = self.store.open(user, role, agent_id, unit, lang, stamp)
        await self._save(session)
        return session

    async def get(self, sid: str | None) -> Session | None:
        """The live session with this id (from memory, else from Redis after a restart)."""
        if not sid:
            return None
        session = self.store.get(sid)
        if session is None and self._backing is not None:
            try:
                found = await self._backing.load(sid)
            except Exception as exc:
                log.warning("desktop sessions: Redis not reachable (%s); memory only", exc)
                return None
            if found is None:
                return None
            self.store.adopt(found)
            self._written[sid] = found.seen_at
            session = self.store.get(sid)
            if session is None:  # expired by the rules while the engine was away
                await self._delete(sid)
                return None
        if session is not None and session.seen_at - self._written.get(sid, 0.0) >= (
            self._touch_every_s
        ):
            await self._save(session)
        return session

    async def set_lang(self, sid: str, lang: str) -> None:
        self.store.set_lang(sid, lang)
        session = self.store.get(sid)
        if session is not None:
            await self._save(session)

    async def close(self, sid: str) -> None:
        self.store.close(sid)
        self._written.pop(sid, None)
        await self._delete(sid)

    async def _save(self, session: Session) -> None:
        if self._backing is None:
            return
        try:
            await self._backing.save(session, self.store.ttl_s(session))
            self._written[session.sid] = session.seen_at
        except Exception as exc:
            log.warning("desktop session not saved to Redis (%s); memory only", exc)
        if len(self._written) > 4 * max(len(self.store), 1000):  # closed by expiry meanwhile
            self._written = {s: t for s, t in self._written.items() if self.store.has(s)}

    async def _delete(self, sid: str) -> None:
        if self._backing is None:
            return
        try:
            await self._backing.delete(sid)
        except Exception as exc:
            log.warning("desktop session not removed from Redis: %s", exc)
