"""The web desktop's defences against the running engine: log-in required everywhere, CSRF on
every state change, roles per page, and whatever a user types shown escaped, never as markup."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.store import CallRecordStore
from tests.conftest import EngineProcess
from tests.support.desk import DeskClient, add_test_users, desk_client

pytestmark = pytest.mark.asterisk

PAGES = ["/desk/", "/desk/agent", "/desk/wallboard", "/desk/tickets/00000000000000"]
GET_CALLS = [
    "/desk/api/me",
    "/desk/api/wallboard",
    "/desk/api/wallboard/chart",
    "/desk/api/calls/1700000000.1/steps",
    "/desk/api/kb?q=停水",
]
# Every state-changing call of the call panel and the supervisor's controls.
CALL_CONTROLS = [
    "/desk/api/call/hold",
    "/desk/api/call/resume",
    "/desk/api/call/hangup",
    "/desk/api/call/transfer",
    "/desk/api/call/emergency",
    "/desk/api/threeway/start",
    "/desk/api/threeway/consult",
    "/desk/api/threeway/complete",
    "/desk/api/threeway/cancel",
    "/desk/api/threeway/leave",
    "/desk/api/threeway/drop",
    "/desk/api/agents/1001/spy/listen",
    "/desk/api/agents/1001/spy/whisper",
    "/desk/api/agents/1001/spy/barge",
]
POST_CALLS = [
    "/desk/api/seat/login",
    "/desk/api/seat/ready",
    "/desk/api/seat/not-ready",
    "/desk/api/seat/logout",
    "/desk/api/agents/1001/not-ready",
    "/desk/api/agents/1001/logout",
    "/desk/api/tickets",
    *CALL_CONTROLS,
    "/desk/logout",
    "/desk/lang",
]
PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
async def desk(engine: EngineProcess) -> AsyncIterator[DeskClient]:
    add_test_users(engine)
    client = desk_client(engine)
    yield client
    await client.close()


async def test_anonymous_access_is_refused_everywhere(engine: EngineProcess) -> None:
    async with aiohttp.ClientSession() as http:
        for path in PAGES:
            async with http.get(engine.base + path, allow_redirects=False) as resp:
                assert resp.status == 303, path
                assert resp.headers["Location"] == "/desk/login", path
        for path in GET_CALLS:
            async with http.get(engine.base + path) as resp:
                assert resp.status == 401, path
                assert "log in" in (await resp.json())["error"]
        for path in POST_CALLS:
            async with http.post(engine.base + path, json={}, allow_redirects=False) as resp:
                assert resp.status == 401, path
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(engine.base + "/desk/ws")
        assert refused.value.status == 401
        async with http.get(engine.base + "/", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/desk/"
        # The scripts' bearer-token API is unchanged: no token, no answer.
        async with http.get(engine.base + "/api/v1/status") as resp:
            assert resp.status == 401
        async with http.get(engine.base + "/desk/login") as resp:
            assert resp.status == 200
            assert "登录" in await resp.text()  # Chinese by default
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_login_sets_a_strict_http_only_session_cookie(
    engine: EngineProcess, desk: DeskClient
) -> None:
    wrong = await desk.login("agent1001", "not-the-password")
    assert wrong.status == 401
    assert "用户名或密码错误" in await wrong.text()
    resp = await desk.login("agent1001")
    assert resp.status == 303
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("hl_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/desk" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https sets it (web.cookie_secure)
    async with desk.http.get(engine.base + "/desk/api/me") as me:
        assert (await me.json())["agent_id"] == "1001"
    # Guessing: after 3 wrong passwords from one address, that address waits (429, growing
    # delays) even with the right one; super1 at another desk logs in all the same.
    guesser = desk_client(engine, source="127.0.0.2")
    owner = desk_client(engine, source="127.0.0.3")
    try:
        for _ in range(3):
            assert (await guesser.login("super1", "guess-guess-guess")).status == 401
        held = await guesser.login("super1")
        assert held.status == 429 and int(held.headers["Retry-After"]) >= 1
        assert re.search(r"请 \d+ 秒后再试", await held.text())
        assert (await owner.login("super1")).status == 303
    finally:
        await guesser.close()
        await owner.close()


async def test_forged_cross_site_posts_are_refused(engine: EngineProcess, desk: DeskClient) -> None:
    assert (await desk.login("agent1001")).status == 303
    assert desk.csrf
    for forged in ("", "x" * len(desk.csrf), desk.csrf[:-1]):
        for path in ("/desk/api/seat/login", "/desk/api/tickets", *CALL_CONTROLS, "/desk/logout"):
            resp = (
                await desk.post_json(path, {}, csrf=forged)
                if forged
                else (await desk.http.post(engine.base + path, json={}, allow_redirects=False))
            )
            assert resp.status == 403, (path, forged)
    # A plain HTML form posted from another site: no token, and the wrong Origin.
    resp = await desk.http.post(
        engine.base + "/desk/logout",
        data={"csrf_token": "guess"},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403
    # The right token from another origin is refused too.
    resp = await desk.post_json("/desk/api/seat/login", {}, Origin="http://evil.example")
    assert resp.status == 403
    # Nothing happened: the agent is still logged out of its seat, the session still works.
    assert not [a for a in engine.status()["agents"] if a["agent_id"] == "1001"]
    resp = await desk.post_json("/desk/api/seat/login")
    assert resp.status == 200, await resp.text()
    assert [a for a in engine.status()["agents"] if a["agent_id"] == "1001"]
    # A page on another site cannot open the live feed with the agent's cookie either.
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await desk.http.ws_connect(
            engine.base + "/desk/ws", headers={"Origin": "http://evil.example"}
        )
    assert refused.value.status == 403
    # The log-in form has its own token too.
    async with aiohttp.ClientSession() as other:
        resp = await other.post(
            engine.base + "/desk/login",
            data={"name": "agent1001", "password": "agent-1001-secret-pw"},
            allow_redirects=False,
        )
        assert resp.status == 403


async def test_roles_keep_agents_out_of_supervisor_pages(
    engine: EngineProcess, desk: DeskClient
) -> None:
    assert (await desk.login("agent1001")).status == 303
    async with desk.http.get(engine.base + "/desk/wallboard") as resp:
        assert resp.status == 403
        assert "无权访问" in await resp.text()
    async with desk.http.get(engine.base + "/desk/api/wallboard") as resp:
        assert resp.status == 403
    resp = await desk.post_json("/desk/api/agents/1002/logout")
    assert resp.status == 403
    for mode in ("listen", "whisper", "barge"):  # only supervisors listen in
        resp = await desk.post_json(f"/desk/api/agents/1002/spy/{mode}")
        assert resp.status == 403, mode
    async with desk.http.get(engine.base + "/desk/api/wallboard/chart") as resp:
        assert resp.status == 403
    async with desk.http.get(engine.base + "/desk/agent") as resp:
        assert resp.status == 200
    unit = desk_client(engine)
    supervisor = desk_client(engine)
    try:
        assert (await unit.login("unit1")).status == 303
        for path in ("/desk/agent", "/desk/wallboard", "/desk/api/wallboard/chart",
                     "/desk/api/calls/1700000000.1/steps", "/desk/api/kb?q=x"):  # fmt: skip
            async with unit.http.get(engine.base + path) as resp:
                assert resp.status == 403, path
        for path in ("/desk/api/call/hold", "/desk/api/threeway/consult"):
            resp = await unit.post_json(path)
            assert resp.status == 403, path
        assert (await supervisor.login("super1")).status == 303
        async with supervisor.http.get(engine.base + "/desk/wallboard") as resp:
            assert resp.status == 200
        async with supervisor.http.get(engine.base + "/desk/api/wallboard/chart") as resp:
            chart = await resp.json()
        assert resp.status == 200 and len(chart["rows"]) == 48, chart
        resp = await supervisor.post_json("/desk/api/agents/1001/spy/listen")
        assert resp.status == 409 and "no phone" in (await resp.json())["error"]
        async with supervisor.http.get(engine.base + "/desk/agent") as resp:
            assert resp.status == 403
    finally:
        await unit.close()
        await supervisor.close()


async def test_payloads_in_every_form_field_are_shown_escaped(
    engine: EngineProcess, desk: DeskClient
) -> None:
    # The log-in form: the name comes back in the form, escaped.
    failed = await desk.login(PAYLOAD, "whatever-password")
    page = await failed.text()
    assert failed.status == 401
    assert "<script>alert" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;" in page
    assert (await desk.login("agent1001")).status == 303
    # The ticket form: every text field carries the payload.
    body = {
        "category": "complaint",
        "subject_code": "99",
        "description": PAYLOAD,
        "caller_name": PAYLOAD[:64],
        "contact": PAYLOAD[:64],
        "address": PAYLOAD,
        "caller_number": "13800000001",
    }
    resp = await desk.post_json("/desk/api/tickets", body)
    assert resp.status == 201, await resp.text()
    url = (await resp.json())["url"]
    async with desk.http.get(engine.base + url) as ticket:
        html = await ticket.text()
    assert ticket.status == 200
    assert "<script>alert" not in html and "<img src=x" not in html
    for field in ("description", "address"):
        assert f'id="t-{field}" class="pre">{ESCAPED}' in html or ESCAPED in html, field
    assert html.count("&lt;script&gt;") >= 4  # description, name, contact, address
    # Fields that must be well-formed refuse the payload with a message naming the field.
    for name in ("caller_number", "category", "subject_code", "call_id"):
        resp = await desk.post_json("/desk/api/tickets", {**body, name: PAYLOAD})
        assert resp.status == 400, name
        error = await resp.json()
        assert error["field"] == name, error
        assert resp.content_type == "application/json"
    resp = await desk.post_json("/desk/api/seat/not-ready", {"reason": PAYLOAD})
    assert resp.status == 400 and (await resp.json())["field"] == "reason"


async def test_supervisor_forces_an_agent_not_ready_then_out(
    engine: EngineProcess, desk: DeskClient
) -> None:
    engine.agent("1001", "login")
    engine.agent("1001", "ready")
    assert (await desk.login("super1")).status == 303
    async with desk.http.get(engine.base + "/desk/api/wallboard") as resp:
        board = await resp.json()
    assert [a["state"] for a in board["agents"] if a["agent_id"] == "1001"] == ["ready"]
    resp = await desk.post_json("/desk/api/agents/1001/not-ready")
    assert resp.status == 200, await resp.text()
    agent = next(a for a in engine.status()["agents"] if a["agent_id"] == "1001")
    assert (agent["state"], agent["reason"]) == ("not_ready", "supervisor")
    resp = await desk.post_json("/desk/api/agents/1001/logout")
    assert resp.status == 200
    assert not [a for a in engine.status()["agents"] if a["agent_id"] == "1001"]
    resp = await desk.post_json("/desk/api/agents/9999/logout")
    assert resp.status == 404 and "9999" in (await resp.json())["error"]


async def test_engine_stops_promptly_with_a_desktop_open(
    engine: EngineProcess, desk: DeskClient
) -> None:
    assert (await desk.login("super1")).status == 303
    ws = await desk.http.ws_connect(engine.base + "/desk/ws")
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "wallboard"
    engine.stop()  # SIGTERM, then SIGKILL after 10 s: a held shutdown ends with -9, not 0
    assert engine.proc is not None and engine.proc.returncode == 0, engine.log_tail()
    await ws.close()


@pytest.mark.calendar  # a deadline: issue 12
async def test_units_see_only_their_tickets_and_not_the_identity_of_complainants(
    engine: EngineProcess, desk: DeskClient
) -> None:
    """unit1 belongs to water-co: a ticket dispatched elsewhere is not there for it (404, as for
    a ticket that does not exist); its own shows; a complaint about water-co, or a confidential
    ticket, shows without the caller's name, number and contact."""

    def ticket(unit: str, **extra: object) -> str:
        made = engine.api(
            "POST",
            "/api/v1/tickets",
            {"category": "help", "subject_code": "02.01", "description": "停水求助",
             "caller_number": "13900001234", "caller_name": "王某某", "contact": "wang@example.cn",
             "actor": "intake", **extra},
        )  # fmt: skip
        engine.api("POST", f"/api/v1/tickets/{made['number']}/actions",
                   {"action": "Dispatch", "actor": "dispatcher", "unit": unit})  # fmt: skip
        return str(made["number"])

    elsewhere = ticket("power-co", confidential=True)
    own = ticket("water-co")
    complaint = ticket("water-co", category="complaint", about_unit="water-co")
    secret = ticket("water-co", confidential=True)
    assert (await desk.login("unit1")).status == 303
    async with desk.http.get(f"{engine.base}/desk/tickets/{elsewhere}") as resp:
        page = await resp.text()
    assert resp.status == 404 and "13900001234" not in page and "停水求助" not in page
    async with desk.http.get(f"{engine.base}/desk/tickets/{own}") as resp:
        page = await resp.text()
    assert resp.status == 200 and "13900001234" in page and "王某某" in page
    for hidden in (complaint, secret):
        async with desk.http.get(f"{engine.base}/desk/tickets/{hidden}") as resp:
            page = await resp.text()
        assert resp.status == 200 and "停水求助" in page, hidden
        for identity in ("13900001234", "王某某", "wang@example.cn"):
            assert identity not in page, (hidden, identity)
    # An agent of the hotline sees the ticket whole (the platform handles the identity).
    agent = desk_client(engine)
    try:
        assert (await agent.login("agent1001")).status == 303
        async with agent.http.get(f"{engine.base}/desk/tickets/{complaint}") as resp:
            assert "13900001234" in await resp.text()
    finally:
        await agent.close()


async def test_an_agent_links_to_a_ticket_only_calls_it_handled(
    engine: EngineProcess, desk: DeskClient
) -> None:
    """Issue 13, item 6. A ticket shows its calls' records and recordings: agent 1001 filing a
    ticket "for" a call agent 1002 answered (or one that never was) is refused, nothing is
    created; for a call it answered itself the ticket is linked to it."""
    records = CallRecordStore(engine.cfg.database_url, engine.cfg.spool_dir)
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for call_id, agent in (("1790000000.7", "1002"), ("1790000000.8", "1001")):
        written = records.write(CallRecord(
            unique_id=call_id, linked_id=call_id, caller="13800000077", dialled="12345",
            arrived_at=at, ended_at=at + timedelta(minutes=3), outcome=CallOutcome.ANSWERED,
            answered_at=at + timedelta(seconds=5), agent_id=agent,
        ))  # fmt: skip
        assert written == "written"
    records.dispose()
    assert (await desk.login("agent1001")).status == 303
    body = {"category": "consultation", "subject_code": "99", "description": "咨询",
            "caller_number": "13800000077"}  # fmt: skip
    before = len(engine.api("GET", "/api/v1/tickets?view=all")["tickets"])
    for stranger in ("1790000000.7", "1790000000.9"):  # another agent's call; no such call
        resp = await desk.post_json("/desk/api/tickets", {**body, "call_id": stranger})
        assert resp.status == 403, (stranger, await resp.text())
        assert (await resp.json())["field"] == "call_id"
    assert len(engine.api("GET", "/api/v1/tickets?view=all")["tickets"]) == before
    resp = await desk.post_json("/desk/api/tickets", {**body, "call_id": "1790000000.8"})
    assert resp.status == 201, await resp.text()
    number = (await resp.json())["number"]
    assert engine.api("GET", f"/api/v1/tickets/{number}")["calls"] == ["1790000000.8"]
    # A supervisor (listens in, reviews every call) is not held to it.
    boss = desk_client(engine)
    try:
        assert (await boss.login("super1")).status == 303
        resp = await boss.post_json("/desk/api/tickets", {**body, "call_id": "1790000000.7"})
        assert resp.status == 201, await resp.text()
    finally:
        await boss.close()
