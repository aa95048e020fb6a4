"""The lease in Redis: the adapter that runs hotline.app.lease.Lease against a real Redis.

Keys (under the centre's key prefix):

- ``leader``        ``"<token> <engine id> <http url>"`` with a PX expiry: who leads, until when;
- ``leader:token``  the fencing counter (INCR), never reset, so tokens only grow.

Every step is one Lua script, so it is atomic in Redis: grant only if nobody holds the lease
(and take the next token in the same step), extend or delete only if the value is still ours.
The lease uses its own connection: a save of the ACD snapshot stuck on a slow link must not
hold a renewal up behind it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from hotline.app.lease import (
    Acquire,
    Decision,
    Event,
    Granted,
    Held,
    Lead,
    Lease,
    LeaseTiming,
    Renew,
    Renewed,
    Resign,
    StepDown,
    Tick,
    Unanswered,
)

log = logging.getLogger(__name__)

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then return {0, current} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ' ' .. ARGV[1], 'PX', ARGV[2])
return {token, ''}
"""
_RENEW = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, ''}
end
return {0, current or ''}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def holder_of(value: str) -> tuple[int, str, str]:
    """(token, engine id, http url) from the lease's value."""
    token, _, rest = value.partition(" ")
    engine, _, url = rest.partition(" ")
    return int(token) if token.isdigit() else 0, engine, url


class RedisLeader:
    def __init__(
        self,
        client: aioredis.Redis,
        key_prefix: str,
        engine_id: str,
        http_url: str,
        timing: LeaseTiming,
        *,
        on_lead: Callable[[int], Awaitable[None]],
        on_step_down: Callable[[int, str], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = f"{key_prefix}leader"
        self.token_key = f"{key_prefix}leader:token"
        self.engine_id = engine_id
        self.http_url = http_url
        self.lease = Lease(timing)
        self.value = ""
        """The lease's value in Redis while this engine holds it."""
        self.leader_url = ""
        """The leading engine's HTTP address, as last seen (a standby's desktop answer)."""
        self._client = client
        self._clock = clock
        self._on_lead = on_lead
        self._on_step_down = on_step_down
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._request: asyncio.Task[None] | None = None

    def token(self) -> int | None:
        """The AMI gate: the fencing token while this engine may act, None otherwise."""
        return self.lease.may_act(self._clock())

    def lease_age_s(self) -> float | None:
        renewed = self.lease.renewed_at
        return None if renewed is None or self.token() is None else self._clock() - renewed

    async def run(self) -> None:
        """Tick the lease until it is fenced; every step is a few milliseconds of work."""
        step = min(self.lease.timing.renew_s, self.lease.timing.poll_s) / 4
        try:
            while True:
                await self._feed(Tick(self._clock()))
                if self.lease.role == "fenced":
                    return
                await asyncio.sleep(step)
        finally:
            if self._request is not None:
                self._request.cancel()

    async def resign(self) -> None:
        await self._feed(Resign(self._clock()))

    async def _feed(self, event: Event) -> None:
        for decision in self.lease.handle(event):
            await self._execute(decision)

    async def _execute(self, decision: Decision) -> None:
        if isinstance(decision, Acquire | Renew):
            # In the background: the tick goes on while Redis is slow, so the lease's end is
            # noticed on time even when a request hangs.
            self._request = asyncio.ensure_future(self._ask(decision))
        elif isinstance(decision, Lead):
            log.warning("leading with fencing token %d (engine %s)", decision.token, self.engine_id)
            await self._on_lead(decision.token)
        elif isinstance(decision, StepDown):
            log.error(
                "no longer leading (token %d): %s; AMI actions refused from now",
                decision.token,
                decision.reason,
            )
            if decision.release and self.value:
                try:
                    await asyncio.wait_for(self._release(keys=[self.key], args=[self.value]), 1.0)
                except Exception as exc:  # it expires on its own
                    log.warning("lease not released (%s); it expires on its own", exc)
            await self._on_step_down(decision.token, decision.reason)

    async def _ask(self, decision: Acquire | Renew) -> None:
        sent_at = self._clock()
        ms = str(int(self.lease.timing.lease_s * 1000))
        timeout = self.lease.timing.lease_s - self.lease.timing.safety_s
        try:
            if isinstance(decision, Acquire):
                me = f"{self.engine_id} {self.http_url}"
                token, holder = await asyncio.wait_for(
                    self._acquire(keys=[self.key, self.token_key], args=[me, ms]), timeout
                )
                if int(token):
                    self.value = f"{int(token)} {me}"
                    event: Event = Granted(int(token), sent_at, self._clock())
                else:
                    _t, engine, self.leader_url = holder_of(_text(holder))
                    event = Held(engine, self._clock())
            else:
                ok, holder = await asyncio.wait_for(
                    self._renew(keys=[self.key], args=[self.value, ms]), timeout
                )
                if int(ok):
                    event = Renewed(sent_at, self._clock())
                else:
                    event = Held(holder_of(_text(holder))[1], self._clock())
        except Exception as exc:  # Redis away or slow: only the clock decides now
            event = Unanswered(f"{type(exc).__name__}: {exc}", self._clock())
            if self.lease.role == "leader":
                log.warning("lease not renewed: %s", event.reason)
        await self._feed(event)
