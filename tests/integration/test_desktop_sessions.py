"""Desktop sessions survive an engine restart (they are kept in Redis), and Redis never holds a
session id that could be used as a cookie."""

from __future__ import annotations

import asyncio

import pytest
import redis

from hotline.localservices import redis_client_kwargs
from tests.conftest import EngineProcess
from tests.support.desk import add_test_users, desk_client

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


async def test_a_locked_name_stays_locked_across_a_restart(engine: EngineProcess) -> None:
    """Five wrong passwords lock the name; killing the engine does not lift the lock."""
    add_test_users(engine)
    desk = desk_client(engine)
    try:
        for _ in range(5):
            assert (await desk.login("unit1", "wrong password")).status == 401
        assert (await desk.login("unit1")).status == 401  # the right one, but locked
        keys = failure_keys(engine)
        assert len(keys) == 1 and b"unit1" not in next(iter(keys))  # the name's hash only
        engine.stop(kill=True)
        await asyncio.sleep(0.5)
        engine.start()
        assert (await desk.login("unit1")).status == 401, "a restart lifted the lock"
        assert (await desk.login("super1")).status == 303  # other names are not affected
    finally:
        await desk.close()


def failure_keys(engine: EngineProcess) -> set[bytes]:
    client = redis.Redis.from_url(
        engine.cfg.redis.url, socket_connect_timeout=3, **redis_client_kwargs(engine.cfg)
    )
    try:
        return set(client.scan_iter(f"{engine.cfg.redis.key_prefix}desk:login-failures:*"))
    finally:
        client.close()
