"""Desktop sessions survive an engine restart (they are kept in Redis), and Redis never holds a
session id that could be used as a cookie."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import redis

from hotline.base.localservices import redis_client_kwargs
from tests.conftest import EngineProcess
from tests.support.desk import PASSWORDS, add_test_users, desk_client, hotline_user

pytestmark = pytest.mark.asterisk


def session_keys(engine: EngineProcess) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(
        engine.cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(engine.cfg)
    )
    try:
        pattern = f"{engine.cfg.redis.key_prefix}desk:session:*"
        return {key: client.get(key) or b"" for key in client.scan_iter(pattern)}
    finally:
        client.close()


async def test_an_agent_stays_logged_in_across_a_kill_9_and_logs_out_for_good(
    engine: EngineProcess,
) -> None:
    add_test_users(engine)
    desk = desk_client(engine)
    try:
        assert (await desk.login("agent1001")).status == 303
        sid = next(c.value for c in desk.http.cookie_jar if c.key == "hl_session")
        kept = session_keys(engine)
        assert len(kept) == 1, kept
        ((key, value),) = kept.items()
        assert sid.encode() not in key and sid.encode() not in value  # only its hash

        engine.stop(kill=True)
        await asyncio.sleep(0.5)
        engine.start()
        async with desk.http.get(f"{desk.base}/desk/api/me", allow_redirects=False) as me:
            assert me.status == 200, (me.status, await me.text())
            assert (await me.json())["user"] == "agent1001"
        # The CSRF token came back with the session: a form post still passes the guard.
        lang = await desk.http.post(
            f"{desk.base}/desk/lang", data={"csrf_token": desk.csrf, "lang": "en"},
            allow_redirects=False,
        )  # fmt: skip
        assert lang.status == 303, await lang.text()
        logout = await desk.http.post(
            f"{desk.base}/desk/logout", data={"csrf_token": desk.csrf}, allow_redirects=False
        )
        assert logout.status == 303, await logout.text()
        assert session_keys(engine) == {}
        engine.stop()
        engine.start()
        async with desk.http.get(f"{desk.base}/desk/", allow_redirects=False) as page:
            assert page.status == 303 and page.headers["Location"].endswith("/desk/login")
    finally:
        await desk.close()


async def test_a_stranger_cannot_lock_out_a_user_and_delays_survive_a_restart(
    engine: EngineProcess,
) -> None:
    """Issue 13, item 4. A guesser at 127.0.0.2 hammers unit1 (the old rule locked the name
    after 5): it is held back with growing delays (429 + Retry-After, no password check), also
    after a kill -9; unit1 at its own desk (127.0.0.3) logs in throughout. Botnet addresses
    (127.0.0.4..) get one guess each on the attacked name, then wait."""
    add_test_users(engine)
    guesser = desk_client(engine, source="127.0.0.2")
    owner = desk_client(engine, source="127.0.0.3")
    bots = [desk_client(engine, source=f"127.0.0.{n}") for n in range(4, 16)]
    try:
        answers = [(await guesser.login("unit1", "wrong password")).status for _ in range(8)]
        assert answers[:3] == [401, 401, 401] and set(answers[3:]) == {429}, answers
        held = await guesser.login("unit1")  # the right password, from the failing address
        assert held.status == 429, await held.text()
        assert 1 <= int(held.headers["Retry-After"]) <= 300
        assert (await owner.login("unit1")).status == 303  # no lock a stranger can trigger
        keys = failure_keys(engine)
        assert len(keys) == 3 and not any(b"unit1" in k or b"127.0.0" in k for k in keys), keys

        engine.stop(kill=True)
        await asyncio.sleep(0.5)
        engine.start()
        assert (await guesser.login("unit1")).status == 429, "a restart lifted the delay"
        assert (await guesser.login("super1")).status == 303  # other names: not yet held
        for bot in bots:  # 12 more addresses, one wrong guess each: the name is attacked
            assert (await bot.login("unit1", "botnet guess")).status == 401
        second = await bots[0].login("unit1", "botnet guess 2")
        assert second.status == 429  # a failing address waits for the attacked name ...
        fresh = desk_client(engine, source="127.0.0.3")
        try:  # ... a clean one does not: the owner logs in again from its desk
            assert (await fresh.login("unit1")).status == 303
        finally:
            await fresh.close()
        # `hotline user unlock` lifts the delays at once.
        done = hotline_user(engine, "unlock", "unit1", "--address", "127.0.0.2")
        assert done.returncode == 0, done.stderr
        again = desk_client(engine, source="127.0.0.2")
        try:
            assert (await again.login("unit1")).status == 303
        finally:
            await again.close()
    finally:
        for client in (guesser, owner, *bots):
            await client.close()


def failure_keys(engine: EngineProcess) -> set[bytes]:
    client = redis.Redis.from_url(
        engine.cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(engine.cfg)
    )
    try:
        return set(client.scan_iter(f"{engine.cfg.redis.key_prefix}desk:login:*"))
    finally:
        client.close()


async def test_a_password_reset_ends_open_sessions_and_their_websockets(
    engine: EngineProcess,
) -> None:
    """`hotline user reset-password` (password on stdin, never echoed): the open session's
    websocket is closed with 4401 at once, its next request gets 401; only the new password
    logs in."""
    add_test_users(engine)
    desk = desk_client(engine)
    try:
        assert (await desk.login("agent1001")).status == 303
        ws = await desk.http.ws_connect(engine.base + "/desk/ws")
        new = "agent-1001-new-secret"
        done = hotline_user(engine, "reset-password", "agent1001", "--password-stdin", stdin=new)
        assert done.returncode == 0, done.stderr
        assert new not in done.stdout + done.stderr
        while (msg := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
            pass  # the agent's state on connect
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert ws.close_code == 4401
        async with desk.http.get(engine.base + "/desk/api/me") as me:
            assert me.status == 401
    finally:
        await desk.close()
    fresh = desk_client(engine)
    try:
        assert (await fresh.login("agent1001")).status == 401  # the old password
    finally:
        await fresh.close()
    fresh = desk_client(engine)
    try:
        assert (await fresh.login("agent1001", new)).status == 303
    finally:
        await fresh.close()
        # The session's store is shared: later tests log agent1001 in with its usual password.
        back = hotline_user(
            engine, "reset-password", "agent1001", "--password-stdin", stdin=PASSWORDS["agent1001"]
        )
        assert back.returncode == 0, back.stderr
