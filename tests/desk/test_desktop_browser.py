"""The agent desktop and the supervisor wallboard in a real browser (Debian's Chromium, headless,
driven by Playwright) against the running engine and the real Asterisk.

An agent logs in and goes ready, then not ready; a citizen whose number has an open ticket calls
12345 and waits (the wallboard shows the call waiting); the agent goes ready, the screen-pop
shows the caller's earlier ticket before the agent's phone answers; the wallboard shows the call
answered; the agent files a ticket from the prefilled form, linked to the call. Screenshots of
the desktop and the wallboard go to test-artifacts/. On the way the agent holds and resumes the
call, and the wallboard draws today's chart and offers the supervisor's listen buttons.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, EngineProcess
from tests.support.calls import AmiTestClient, user_event
from tests.support.desk import PASSWORDS, add_test_users, hotline_user, kb_import

pytestmark = pytest.mark.asterisk

CHROMIUM = "/usr/bin/chromium"
CALLER = "13512345678"
MASKED = "135****5678"  # as the wall shows the caller (hotline/wallboard/rules.py mask_number)
KB_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-example.json"


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        pytest.fail(f"the Python package playwright is missing (pip install -e .[test]): {exc}")
    async with async_playwright() as p:
        try:
            chromium = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except Exception as exc:
            pytest.fail(
                f"Debian's Chromium at {CHROMIUM} did not start (apt-get install chromium; "
                f"scripts/setup-system.sh installs it): {exc}"
            )
        yield chromium
        await chromium.close()


async def log_in(browser: Any, engine: EngineProcess, name: str, lands_on: str) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(engine.base + "/desk/login")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORDS[name])
    await page.click("#login-submit")
    await page.wait_for_url(f"**{lands_on}")
    await page.wait_for_selector('#conn[data-state="up"]')
    return page


@pytest.mark.calendar  # the wall's provisional-calendar warning: issue 12
async def test_agent_gets_screen_pop_before_answer_and_wallboard_follows_the_call(
    engine: EngineProcess, ami: AmiTestClient, browser: Any
) -> None:
    add_test_users(engine)
    earlier = engine.api(
        "POST",
        "/api/v1/tickets",
        {"category": "complaint", "subject_code": "02.01", "description": "小区停水三天",
         "caller_number": CALLER, "actor": "intake"},
    )  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)

    agent = await log_in(browser, engine, "agent1001", "/desk/agent")
    await agent.click("#seat-login")
    await agent.wait_for_selector('#agent-state[data-state="not_ready"]')
    await agent.click("#ready")
    await agent.wait_for_selector('#agent-state[data-state="ready"]')
    await agent.select_option("#reason", "break")
    await agent.click("#not-ready")
    await agent.wait_for_selector('#agent-state[data-state="not_ready"]')
    assert "休息" in await agent.text_content("#agent-reason")  # the reason "break"

    # The knowledge base (the shipped examples, loaded with the CLI): an article past its
    # review date is flagged.
    kb_import(engine, KB_EXAMPLE)
    await agent.fill("#kb-query", "社保卡 挂失")
    await agent.click("#kb-search")
    await agent.wait_for_selector('#kb-results li[data-id="social-insurance-card"][data-stale]')
    assert await agent.get_attribute("#kb-results li", "data-stale") == "true"
    assert "已过复核日期" in await agent.text_content("#kb-results li")

    board = await log_in(browser, engine, "super1", "/desk/wallboard")
    await ami.call_12345(CALLER, dtmf="1", hold=90)
    # Next year's calendar still provisional from 1 November: the wall says so (issue 12).
    warning = engine.status()["calendar_warning"]
    if warning:
        await board.wait_for_selector("#calendar-warning:visible", timeout=10_000)
        assert await board.text_content("#calendar-warning") == warning
    else:
        assert await board.is_hidden("#calendar-warning")
    queued = await ami.wait_event(
        lambda ev: user_event("HotlineQueued")(ev) and ev.get("Caller") == CALLER, timeout=30
    )
    await board.wait_for_selector(f'#waiting tr[data-caller="{MASKED}"]', timeout=10_000)
    await board.screenshot(path=str(ARTIFACTS / "desktop-wallboard-waiting.png"), full_page=True)

    await agent.click("#ready")
    await agent.wait_for_selector(f'#pop-earlier a:text("{earlier["number"]}")', timeout=15_000)
    assert await agent.text_content("#pop-caller") == CALLER
    # The IVR path as the call tracker knew it at the offer: the menu flow (the test
    # centre's) queues the caller after the key, so the path is known by then.
    # (The pop says the path in words; the path itself is its data-path.)
    shown_path = await agent.get_attribute("#pop-ivr", "data-path")
    exits = [
        ev["IvrPath"]
        for ev in ami.events
        if user_event("HotlineIvrExit")(ev) and ev.get("CallId") == queued["CallId"]
    ]
    assert shown_path and shown_path in exits, (shown_path, exits)
    assert "是" in await agent.text_content("#pop-repeat")
    assert await agent.input_value("#f-caller_number") == CALLER
    await agent.wait_for_selector('#agent-state[data-state="on_call"]', timeout=15_000)
    seen = await agent.evaluate("window.hotlineLog.map(e => [e.kind, e.data && e.data.state])")
    pop_at = seen.index(["pop", None])
    answered = [
        i for i, (kind, state) in enumerate(seen) if kind == "answered" or state == "on_call"
    ]
    assert answered and pop_at < min(answered), f"the pop came after the answer: {seen}"

    await board.wait_for_selector('#agents tr[data-agent="1001"][data-state="on_call"]')
    await board.wait_for_selector(f'#recent li[data-kind="answered"][data-caller="{MASKED}"]')
    await board.wait_for_selector(f'#waiting tr[data-caller="{MASKED}"]', state="detached")
    # The supervisor's controls on the agent's call, and today's chart (48 half hours drawn).
    await board.wait_for_selector('#agents tr[data-agent="1001"] button.spy-listen')
    # Attached, not "visible": a flat line (the same staffing all day) has no height.
    staffed = await board.wait_for_selector(
        "#chart[data-day] polyline[data-series='staffed']", state="attached"
    )
    assert staffed is not None and (await staffed.get_attribute("points") or "").strip()
    await board.screenshot(path=str(ARTIFACTS / "desktop-wallboard-answered.png"), full_page=True)

    # Hold and resume from the call panel: each step is listed on the call.
    await agent.click("#call-hold")
    await agent.wait_for_selector('#hold-state[data-state="held"]')
    await agent.click("#call-resume")
    await agent.wait_for_selector('#hold-state[data-state="talking"]')
    await agent.wait_for_selector('#call-steps li[data-step="resume"]')
    assert await agent.locator("#call-steps li").count() == 2

    await agent.fill("#f-description", "市民再次来电反映小区停水，要求尽快恢复供水")
    await agent.fill("#f-address", "幸福路 8 号")
    await agent.click("#create-ticket")
    await agent.wait_for_selector("#ticket-link:not(:empty)")
    number = (await agent.text_content("#ticket-link")) or ""
    await agent.screenshot(path=str(ARTIFACTS / "desktop-agent-screen-pop.png"), full_page=True)
    ticket = engine.api("GET", f"/api/v1/tickets/{number}")
    call_id = await agent.get_attribute("#pop", "data-call-id")
    assert ticket["caller_number"] == CALLER and ticket["calls"] == [call_id]
    assert ticket["created_by"] == "1001" and ticket["address"] == "幸福路 8 号"
    assert ticket["category"] == "consultation"  # prefilled: no speech, no complaint skill

    await ami.hangup(queued["Channel"])
    await agent.wait_for_selector(
        '#agent-state[data-state="wrap_up"], #agent-state[data-state="ready"]'
    )

    # Chinese by default, English on request (kept for the session).
    assert await agent.text_content("#ready") == "示闲"
    await agent.click("#lang-switch")
    await agent.wait_for_selector('#ready:text("Ready")')
    await agent.wait_for_selector('#conn[data-state="up"]')
    assert await agent.text_content("#seat-login") == "Log in to seat"


@pytest.fixture
def department_line(monkeypatch: pytest.MonkeyPatch) -> str:
    """The directory's 12315 rings the test department (answers and talks), 12333 never answers;
    set before the engine starts, which inherits the environment."""
    lines = [
        {"number": "12315", "name": "市场监管", "dial": "Local/12315@test-department"},
        {"number": "12333", "name": "不接听的部门", "dial": "Local/12333@test-noanswer"},
    ]
    monkeypatch.setenv("HOTLINE_DEPARTMENTS__LINES", json.dumps(lines))
    monkeypatch.setenv("HOTLINE_DEPARTMENTS__RING_S", "3")
    return "12315"


async def conference_members(ami: AmiTestClient, conference: str) -> list[str]:
    """Channels in the ConfBridge conference (empty when Asterisk says it is gone). Any other
    answer fails the test: a broken AMI must not read as "the conference ended"."""
    response = await ami.send({"Action": "ConfbridgeList", "Conference": conference})
    messages = response if isinstance(response, list) else [response]
    first = messages[0] if messages else {}
    if first.get("Response") == "Error":
        said = str(first.get("Message", ""))
        assert "No Conference by that name" in said or "No active conferences" in said, said
        return []
    return [str(m.get("Channel")) for m in messages if m.get("Event") == "ConfbridgeList"]


async def members_when(ami: AmiTestClient, conference: str, count: int) -> list[str]:
    """The conference's channels once there are `count` (channels take a moment to move)."""
    members: list[str] = []
    for _ in range(30):
        members = await conference_members(ami, conference)
        if len(members) == count:
            break
        await asyncio.sleep(0.1)
    return members


async def test_three_way_call_to_a_department_line_stays_up_after_the_agent_leaves(
    department_line: str, engine: EngineProcess, ami: AmiTestClient, browser: Any
) -> None:
    add_test_users(engine)
    caller = "13612340000"
    agent = await log_in(browser, engine, "agent1001", "/desk/agent")
    await agent.click("#seat-login")
    await agent.wait_for_selector('#agent-state[data-state="not_ready"]')
    await agent.click("#ready")
    await agent.wait_for_selector('#agent-state[data-state="ready"]')
    await ami.call_12345(caller, dtmf="1", hold=90)
    queued = await ami.wait_event(
        lambda ev: user_event("HotlineQueued")(ev) and ev.get("Caller") == caller, timeout=30
    )
    # A UserEvent repeats Channel (the channel's snapshot, then ours): ours is the last.
    channel = queued["Channel"][-1] if isinstance(queued["Channel"], list) else queued["Channel"]
    await agent.wait_for_selector('#agent-state[data-state="on_call"]', timeout=20_000)
    call_id = await agent.get_attribute("#pop", "data-call-id")
    conference = f"hl3-{call_id}"

    async def start(department: str, stage: str) -> None:
        await agent.select_option("#department", department)
        await agent.click("#threeway-start")
        await agent.wait_for_selector(f'#threeway-stage[data-stage="{stage}"]', timeout=20_000)
        stages = await agent.evaluate(
            "window.hotlineLog.filter(e => e.kind === 'threeway').map(e => e.data.stage)"
        )
        assert stages[-2:] == ["dialling", stage], stages  # the citizen was on hold first

    # A department that does not answer: the citizen comes back to the agent.
    await start("12333", "failed")
    members = await members_when(ami, conference, 2)
    assert len(members) == 2 and channel in members, members
    # Drop the department: the agent and the citizen go on.
    await start(department_line, "conferenced")
    assert len(await members_when(ami, conference, 3)) == 3
    await agent.click("#threeway-drop")
    await agent.wait_for_selector('#threeway-stage[data-stage="department_dropped"]')
    members = await members_when(ami, conference, 2)
    assert channel in members and not any("test-department" in m for m in members), members
    assert await agent.get_attribute("#agent-state", "data-state") == "on_call"
    # Again, and this time the agent leaves the citizen with the department.
    await start(department_line, "conferenced")
    members = await members_when(ami, conference, 3)
    assert len(members) == 3, members
    assert any("12315@test-department" in m for m in members), members
    await agent.screenshot(path=str(ARTIFACTS / "desktop-agent-three-way.png"), full_page=True)

    await agent.click("#threeway-leave")
    await agent.wait_for_selector('#threeway-stage[data-stage="agent_left"]')
    await agent.wait_for_selector(
        '#agent-state[data-state="wrap_up"], #agent-state[data-state="ready"]', timeout=10_000
    )
    await asyncio.sleep(2.0)  # the citizen and the department go on talking without the agent
    members = await conference_members(ami, conference)
    assert len(members) == 2, members
    assert any("12315@test-department" in m for m in members), members
    assert channel in members, members

    await ami.hangup(channel)  # the citizen hangs up: the department is let go
    for _ in range(50):
        if not await conference_members(ami, conference):
            break
        await asyncio.sleep(0.1)
    assert await conference_members(ami, conference) == []


async def _desk_page(context: Any, engine: EngineProcess, name: str, lands_on: str) -> Any:
    """A logged-in page whose websocket closes are recorded in ``page.ws_closed``."""
    page = await context.new_page()
    closed: list[str] = []
    page.on("websocket", lambda ws: ws.on("close", lambda _ws: closed.append(ws.url)))
    page.ws_closed = closed
    await page.goto(engine.base + "/desk/login")
    await page.fill("#name", name)
    await page.fill("#password", PASSWORDS[name])
    await page.click("#login-submit")
    await page.wait_for_url(f"**{lands_on}")
    await page.wait_for_selector('#conn[data-state="up"]')
    return page


async def test_disable_and_logout_close_the_websockets_in_the_browser_at_once(
    engine: EngineProcess, browser: Any
) -> None:
    """Issue 13, item 4. `hotline user disable super1` closes the wallboard's websocket in the
    open Chromium (the page goes to the log-in page, the old session gets 401); logging out in
    one tab closes the agent desktop's websocket in the other tab of that session."""
    add_test_users(engine)
    boss = await browser.new_context()
    board = await _desk_page(boss, engine, "super1", "/desk/wallboard")
    done = hotline_user(engine, "disable", "super1")
    assert done.returncode == 0, done.stderr
    await board.wait_for_url("**/desk/login", timeout=10_000)
    assert board.ws_closed, "the wallboard's websocket stayed open"
    me = await boss.request.get(engine.base + "/desk/api/me")
    assert me.status == 401
    await board.fill("#name", "super1")
    await board.fill("#password", PASSWORDS["super1"])
    await board.click("#login-submit")
    await board.wait_for_selector("#login-error")  # disabled: no new log-in either
    assert hotline_user(engine, "enable", "super1").returncode == 0

    desk = await browser.new_context()
    agent = await _desk_page(desk, engine, "agent1001", "/desk/agent")
    other_tab = await desk.new_page()
    await other_tab.goto(engine.base + "/desk/agent")
    await other_tab.click("#logout")
    await other_tab.wait_for_url("**/desk/login")
    await agent.wait_for_url("**/desk/login", timeout=10_000)  # the first tab, untouched
    assert agent.ws_closed, "the agent desktop's websocket stayed open after log-out"
    await boss.close()
    await desk.close()
