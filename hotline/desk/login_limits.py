"""The log-in's defences against a flood: ``LoginLimits``' delays with their counts in Redis, and
password checks in their own small thread pool.

Counts: one Redis hash per key (``n`` failures, ``last`` time), under the SHA-256 of the name
and of the address, never the name or address itself; each expires ``window_s`` after its last
failure, so Redis forgets what the rule no longer counts and a restart lifts nothing. Pair keys
start with the name's digest so ``hotline user unlock NAME`` finds them. Redis away: the counts
go on in this process's memory (a warning is logged).

Password checks (argon2, about 50 ms of CPU and 64 MiB each) run in ``PasswordChecks``' own
executor, never in the default one the database work uses, so a log-in flood cannot starve the
ticket store or the call path. At most ``workers + queue`` checks are admitted at once and at
most ``per_address`` from one address; anything beyond is refused at once (``Busy``: 503, or
429 for the address), never queued without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

import redis.asyncio as aioredis

from hotline.base.web.sessions import Failures, LoginLimits

log = logging.getLogger(__name__)
T = TypeVar("T")
MEMORY_KEYS = 100_000  # a flood of made-up names must not grow the fallback without end


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def key_names(prefix: str, address: str, name: str) -> tuple[str, str, str]:
    """The (address, name), address and name keys, in that order."""
    base = f"{prefix}desk:login:"
    return (
        f"{base}pair:{digest(name)}:{digest(address)}",
        f"{base}addr:{digest(address)}",
        f"{base}name:{digest(name)}",
    )


class LoginGuard:
    """``LoginLimits`` with its counts kept in Redis (memory while Redis is away)."""

    def __init__(
        self,
        limits: LoginLimits,
        client: aioredis.Redis | None,
        key_prefix: str = "hotline:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self._client = client
        self._prefix = key_prefix
        self._clock = clock
        self._memory: dict[str, Failures] = {}

    async def wait_s(self, address: str, name: str) -> float:
        """Seconds before this address may try this name again (0: now)."""
        keys = key_names(self._prefix, address, name)
        counts = await self._read(keys)
        return self.limits.wait_s(self._clock(), *counts)

    async def failed(self, address: str, name: str) -> None:
        now = self._clock()
        keys = key_names(self._prefix, address, name)
        for key in keys:
            old = self._memory.get(key)
            count = 1 if old is None or now - old.last >= self.limits.window_s else old.count + 1
            self._memory[key] = Failures(count, now)
        if len(self._memory) > MEMORY_KEYS:
            self._memory.clear()
        if self._client is None:
            return
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.hincrby(key, "n", 1)
                    pipe.hset(key, "last", repr(now))
                    pipe.pexpire(key, int(self.limits.window_s * 1000))
                await pipe.execute()
        except Exception as exc:
            log.warning("log-in failure not kept in Redis (%s); memory only", exc)

    async def succeeded(self, address: str, name: str) -> None:
        pair = key_names(self._prefix, address, name)[0]
        self._memory.pop(pair, None)
        if self._client is not None:
            try:
                await self._client.delete(pair)
            except Exception as exc:
                log.warning("log-in failures not cleared in Redis: %s", exc)

    def forget_name(self, name: str) -> None:
        """``hotline user unlock``: the counts Redis held are gone; the memory's go too."""
        marks = (f":name:{digest(name)}", f":pair:{digest(name)}:")
        self._memory = {k: v for k, v in self._memory.items() if not any(m in k for m in marks)}

    async def _read(self, keys: tuple[str, str, str]) -> list[Failures | None]:
        if self._client is not None:
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.hmget(key, "n", "last")
                    rows = await pipe.execute()
                return [_failures(row) for row in rows]
            except Exception as exc:
                log.warning("log-in failures not read from Redis (%s); memory only", exc)
        return [self._memory.get(key) for key in keys]


def _failures(row: list[bytes | None]) -> Failures | None:
    count, last = row
    if count is None or last is None:
        return None
    try:
        return Failures(int(count), float(last))
    except ValueError:  # not written by us: count nothing rather than fail the log-in
        return None


class Busy(Exception):
    """Too many password checks at once; ``status`` 503 (everyone) or 429 (this address)."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


class PasswordChecks:
    """Password checks in a small executor of their own, with bounded admission."""

    def __init__(self, workers: int = 2, queue: int = 8, per_address: int = 2) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hotline-login")
        self._limit = workers + queue
        self._per_address = per_address
        self._admitted = 0
        self._by_address: Counter[str] = Counter()

    @property
    def admitted(self) -> int:
        return self._admitted

    async def run(self, address: str, fn: Callable[..., T], *args: object) -> T:
        if self._admitted >= self._limit:
            raise Busy(503, "too many log-ins at once")
        if self._by_address[address] >= self._per_address:
            raise Busy(429, "too many log-ins at once from this address")
        self._admitted += 1
        self._by_address[address] += 1

        def release(_done: object) -> None:  # when the thread is done, even if nobody waits
            self._admitted -= 1
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]

        future = asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args))
        future.add_done_callback(release)
        return await asyncio.shield(future)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
