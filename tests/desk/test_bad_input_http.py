"""Bad input to the running engine gets a 4xx with a clear message, never a 500 (issue 13,
item 7): a recording id in Unicode digits, JSON nested past Python's recursion limit, dates at
the end of the calendar, and a desk user whose agent was removed from the configuration."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from hotline.desk.users import UserStore
from tests.conftest import EngineProcess
from tests.support.desk import DeskClient, add_user, desk_client

pytestmark = pytest.mark.asterisk

DEEP = ("[" * 30000 + "]" * 30000).encode()  # within the 64 KiB body limit


def bearer(engine: EngineProcess, method: str, path: str, data: bytes | None = None) -> int:
    req = urllib.request.Request(
        engine.base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {engine.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
async def desk(engine: EngineProcess) -> AsyncIterator[DeskClient]:
    add_user(engine, "super1", "supervisor")
    client = desk_client(engine)
    yield client
    await client.close()


def test_bearer_api_refuses_deep_json_and_calendar_edges(engine: EngineProcess) -> None:
    for path in ("/api/v1/agents/1001/login", "/api/v1/tickets", "/api/v1/agents/1001/not-ready"):
        assert bearer(engine, "POST", path, DEEP) == 400, (path, engine.log_tail(40))
    for query in ("from=2026-01-01&to=9999-12-31", "from=0001-01-01&to=0001-01-02"):
        code = bearer(engine, "GET", f"/api/v1/reports?{query}")
        assert code == 400, (query, code, engine.log_tail(40))
    assert "Traceback" not in engine.log_tail(200)


async def test_desk_refuses_unicode_digits_deep_json_and_calendar_edges(
    engine: EngineProcess, desk: DeskClient
) -> None:
    assert (await desk.login("super1")).status == 303
    for path in ("/desk/recordings/²", "/desk/recordings/²/audio", "/desk/recordings/٣"):
        async with desk.http.get(f"{engine.base}{path}") as resp:
            assert resp.status == 404, (path, resp.status, engine.log_tail(40))
    late = "from=9999-12-31T23:00:00-05:00&to=9999-12-31T23:30:00-05:00"
    async with desk.http.get(f"{engine.base}/desk/recordings?{late}") as resp:
        assert resp.status == 400, (resp.status, engine.log_tail(40))
    for day in ("9999-12-31", "0001-01-01"):
        async with desk.http.get(f"{engine.base}/desk/quality?day={day}") as resp:
            assert resp.status == 200, (day, resp.status, engine.log_tail(40))
    resp = await desk.http.post(
        f"{engine.base}/desk/api/tickets",
        data=DEEP,
        headers={"X-CSRF-Token": desk.csrf, "Content-Type": "application/json"},
    )
    assert resp.status == 400, (resp.status, engine.log_tail(40))
    resp = await desk.http.post(
        f"{engine.base}/desk/recordings/1/score",
        data=DEEP,
        headers={"X-CSRF-Token": desk.csrf, "Content-Type": "application/json"},
    )
    assert resp.status in (400, 404), (resp.status, engine.log_tail(40))
    assert "Traceback" not in engine.log_tail(200)


async def test_a_desk_user_whose_agent_is_not_configured_gets_a_clear_4xx(
    engine: EngineProcess,
) -> None:
    # `hotline user add` refuses an unknown agent; the configuration may lose one later.
    store = UserStore(engine.cfg.database_url)
    try:
        if store.get("gone9999") is None:
            store.add("gone9999", "agent", "agent-gone-secret-pw", agent_id="9999", unit=None)
        if store.get("review9999") is None:
            store.add("review9999", "reviewer", "review-gone-secret-pw", agent_id="9999")
    finally:
        store.dispose()
    desk = desk_client(engine)
    try:
        assert (await desk.login("gone9999", "agent-gone-secret-pw")).status == 303
        async with desk.http.get(f"{engine.base}/desk/agent") as resp:
            text = await resp.text()
            assert resp.status == 409 and "9999" in text, (resp.status, text[:300])
        for action in ("login", "ready", "logout"):
            resp = await desk.post_json(f"/desk/api/seat/{action}")
            body = json.loads(await resp.text())
            assert resp.status == 404 and "9999" in body["error"], (action, resp.status, body)
        async with desk.http.get(f"{engine.base}/desk/api/me") as resp:
            assert resp.status == 200
    finally:
        await desk.close()
    reviewer = desk_client(engine)
    try:
        assert (await reviewer.login("review9999", "review-gone-secret-pw")).status == 303
        resp = await reviewer.http.post(
            f"{engine.base}/desk/review/20261207000001/callback",
            data={"csrf_token": reviewer.csrf},
            allow_redirects=False,
        )
        assert resp.status == 303 and "note=error" in resp.headers["Location"], resp.status
    finally:
        await reviewer.close()
    assert "Traceback" not in engine.log_tail(200)
