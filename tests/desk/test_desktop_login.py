"""The desktop log-in cannot be turned into a denial of service (issue 13, item 4): delays per
address and name that a stranger cannot use against someone else, password checks in their own
bounded executor, and sessions that end when their user is disabled or its password reset."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hotline.app.migrate import upgrade
from hotline.base.web.sessions import Failures, LoginLimits, SessionStore
from hotline.desk.access import UserGate
from hotline.desk.live import SESSION_ENDED, LiveHub, Subscriber
from hotline.desk.login_limits import Busy, LoginGuard, PasswordChecks
from hotline.desk.session_store import DeskSessions
from hotline.desk.users import UserStore

LIMITS = LoginLimits(base_s=1.0, cap_s=60.0, window_s=900.0, free_pair=3, free_address=20,
                     free_name=10)  # fmt: skip


def test_delays_grow_per_address_and_name_and_are_capped() -> None:
    now = 1000.0
    waits = [LIMITS.wait_s(now, Failures(n, now), Failures(n, now), Failures(n, now))
             for n in range(1, 12)]  # fmt: skip
    assert waits[:2] == [0.0, 0.0]  # two wrong passwords cost nothing
    assert waits[2:9] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]  # then doubling, capped
    assert max(waits) == LIMITS.cap_s  # never a lock: every delay runs out
    # The delay counts from the last failure and is forgotten after the window.
    assert LIMITS.wait_s(now + 59.0, Failures(20, now), None, None) == pytest.approx(1.0)
    assert LIMITS.wait_s(now + 60.0, Failures(20, now), None, None) == 0.0
    assert LIMITS.delay_s(Failures(10_000, now), 3) == LIMITS.cap_s  # no overflow


def test_a_stranger_cannot_hold_back_a_user_logging_in_from_elsewhere() -> None:
    now = 1000.0
    attacked = Failures(500, now)  # the name has been guessed at a lot, from everywhere
    # The owner's address has not been failing: the name's delay does not hold it.
    assert LIMITS.wait_s(now, pair=None, address=None, name=attacked) == 0.0
    # An address that has failed itself (on any name) is held by the name's delay.
    assert LIMITS.wait_s(now, pair=None, address=Failures(1, now), name=attacked) == 60.0
    # One address spraying many names is held by its own count.
    assert LIMITS.wait_s(now, None, Failures(25, now), None) == 32.0


async def test_the_guard_counts_per_pair_address_and_name_and_clears_the_pair_on_success() -> None:
    now = [1000.0]
    guard = LoginGuard(LIMITS, None, clock=lambda: now[0])  # no Redis: memory (its fallback)
    for _ in range(4):
        await guard.failed("10.0.0.9", "ann")
    assert await guard.wait_s("10.0.0.9", "ann") == 2.0
    assert await guard.wait_s("10.0.0.9", "bob") == 0.0  # other names from there: not yet
    assert await guard.wait_s("10.0.0.5", "ann") == 0.0  # ann herself, from her desk
    await guard.succeeded("10.0.0.9", "ann")
    assert await guard.wait_s("10.0.0.9", "ann") == 0.0
    for _ in range(12):  # a botnet: one failure per address on ann
        await guard.failed(f"10.1.0.{_}", "ann")
    assert await guard.wait_s("10.1.0.1", "ann") > 0  # a failing address waits
    assert await guard.wait_s("10.0.0.5", "ann") == 0.0  # a clean one does not
    guard.forget_name("ann")  # `hotline user unlock ann`
    assert await guard.wait_s("10.1.0.1", "ann") == 0.0


async def test_password_checks_run_in_their_own_bounded_pool_and_refuse_beyond_it() -> None:
    checks = PasswordChecks(workers=2, queue=1, per_address=2)
    release = threading.Event()
    names: list[str] = []

    def slow_check() -> bool:
        names.append(threading.current_thread().name)
        release.wait(10)
        return True

    running = [asyncio.ensure_future(checks.run(addr, slow_check))
               for addr in ("10.0.0.1", "10.0.0.2", "10.0.0.3")]  # fmt: skip
    await asyncio.sleep(0.1)
    assert checks.admitted == 3
    with pytest.raises(Busy) as full:  # answered at once, not queued
        await checks.run("10.0.0.4", slow_check)
    assert full.value.status == 503
    # The default executor (the database's) is free meanwhile.
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "db"), 5) == "db"
    release.set()
    assert await asyncio.gather(*running) == [True, True, True]
    assert checks.admitted == 0
    assert names and all(n.startswith("hotline-login") for n in names)
    # One address gets at most per_address checks at once: a 429 for the rest.
    release.clear()
    mine = [asyncio.ensure_future(checks.run("10.0.0.1", slow_check)) for _ in range(2)]
    await asyncio.sleep(0.1)
    with pytest.raises(Busy) as same:
        await checks.run("10.0.0.1", slow_check)
    assert same.value.status == 429
    release.set()
    await asyncio.gather(*mine)
    checks.close()


class _Socket:
    def __init__(self) -> None:
        self.code: int | None = None

    async def send_str(self, data: str) -> None:
        pass

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        self.code = code


def _hub() -> LiveHub:
    acd = SimpleNamespace(acd=SimpleNamespace(agent=lambda _a: None, agents=lambda: []))
    return LiveHub(acd, SimpleNamespace(), None, lambda: {})  # type: ignore[arg-type]


async def test_disable_and_password_reset_end_sessions_and_close_their_websockets(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    users = UserStore(url)
    ann = users.add("ann", "agent", "ann-password-1", agent_id="1001")
    users.add("bob", "agent", "bob-password-1", agent_id="1002")
    now = [0.0]
    sessions = DeskSessions(SessionStore(lambda: now[0], idle_s=60, max_s=600))
    hub = _hub()
    gate = UserGate(users, sessions, hub, LoginGuard(LIMITS, None))
    first = await sessions.open("ann", "agent", "1001", None, stamp=ann.stamp)
    bob = await sessions.open("bob", "agent", "1002", None, stamp=users.get("bob").stamp)  # type: ignore[union-attr]
    sockets = {s.sid: _Socket() for s in (first, bob)}
    for s in (first, bob):
        hub.add(Subscriber(s, sockets[s.sid]))
    assert await gate.allows(first) and await gate.allows(bob)

    users.set_active("ann", False)
    assert not await gate.allows(first)  # the very next request is refused
    assert await gate.recheck("ann") == 1
    await asyncio.sleep(0)
    assert sockets[first.sid].code == SESSION_ENDED and sockets[bob.sid].code is None
    assert await sessions.get(first.sid) is None
    assert users.authenticate("ann", "ann-password-1") is None  # and no new log-in

    users.set_active("ann", True)
    second = await sessions.open("ann", "agent", "1001", None, stamp=users.get("ann").stamp)  # type: ignore[union-attr]
    assert await gate.allows(second)
    users.set_password("ann", "ann-password-2")
    assert not await gate.allows(second)  # opened under the old password
    assert await gate.allows(bob)
    users.dispose()


async def test_an_expired_session_closes_its_websocket_within_a_watch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    users = UserStore(url)
    ann = users.add("ann", "agent", "ann-password-1", agent_id="1001")
    now = [0.0]
    sessions = DeskSessions(SessionStore(lambda: now[0], idle_s=60, max_s=600))
    hub = _hub()
    gate = UserGate(users, sessions, hub, LoginGuard(LIMITS, None), watch_s=0.01)
    session = await sessions.open("ann", "agent", "1001", None, stamp=ann.stamp)
    socket = _Socket()
    hub.add(Subscriber(session, socket))
    watcher = asyncio.ensure_future(gate.run())
    try:
        await asyncio.sleep(0.05)
        assert socket.code is None and sessions.store.alive(session.sid)
        now[0] = 61.0  # idle for longer than idle_s
        for _ in range(200):
            if socket.code is not None:
                break
            await asyncio.sleep(0.01)
        assert socket.code == SESSION_ENDED
        assert not hub.subscribers
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        users.dispose()


def test_close_session_closes_only_that_sessions_sockets() -> None:
    async def go() -> dict[str, Any]:
        hub = _hub()
        store = SessionStore(lambda: 0.0)
        a1, a2 = store.open("ann", "agent", "1001", None), store.open("ann", "agent", "1001", None)
        socks = {a1.sid: _Socket(), a2.sid: _Socket()}
        for s in (a1, a2):
            hub.add(Subscriber(s, socks[s.sid]))
        assert hub.close_session(a1.sid) == 1
        await asyncio.sleep(0)
        return {"a1": socks[a1.sid].code, "a2": socks[a2.sid].code, "left": len(hub.subscribers)}

    assert asyncio.run(go()) == {"a1": SESSION_ENDED, "a2": None, "left": 1}
