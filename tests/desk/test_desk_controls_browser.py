"""The agent page's controls follow the call (issue 18), in Chromium against the real engine and
Asterisk, at the 1366x768 screen of a call-centre desk.

At every state the page shows (logged out, not ready, ready, ringing, talking, held, "not ready
after this call", wrap-up) the enabled buttons are exactly those the ACD and the call control
would accept; every state the page went through is checked again from the page's own log.
During the call the ticket form is on the screen without scrolling. A caller who withheld the
number reads "未知号码". After the wrap-up the pop goes to the shift's list. Screenshots of the
page idle, ringing, talking and in wrap-up go to test-artifacts/ (and docs/screenshots/).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, EngineProcess
from tests.desk.test_desktop_browser import browser  # noqa: F401  (the fixture)
from tests.support.calls import AmiTestClient, user_event
from tests.support.desk import PASSWORDS, add_test_users

pytestmark = pytest.mark.asterisk

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WITHHELD = "anonymous"
SEAT_BUTTONS = ("seat-login", "ready", "reason", "not-ready", "seat-logout")
CALL_BUTTONS = ("call-hold", "call-resume", "call-hangup", "department", "threeway-start",
                "threeway-leave", "threeway-drop", "transfer-blind", "transfer-consult",
                "transfer-complete", "transfer-cancel", "emergency", "create-ticket")  # fmt: skip
WRAPUP_S = 25  # long enough to look at the wrap-up (the test centre's is 1 s)


def expected(state: str, *, held: str = "talking", after_call: bool = False, pop: bool) -> set[str]:
    """What the ACD (hotline/acd/core.py) and the call control accept, written out apart from the
    page."""
    on = {
        "logged_out": {"seat-login"},
        "not_ready": {"ready", "reason", "not-ready", "seat-logout"},
        "ready": {"reason", "not-ready", "seat-logout"},
        "ringing": {"reason", "ready" if after_call else "not-ready"},
        "on_call": {"reason", "ready" if after_call else "not-ready"},
        "wrap_up": {"ready", "reason", "not-ready", "seat-logout"},
    }[state]
    if state == "on_call" and held == "talking":
        on |= {"call-hold", "call-hangup", "department", "threeway-start", "transfer-blind",
               "transfer-consult", "emergency"}  # fmt: skip
    if state == "on_call" and held == "held":
        on |= {"call-resume", "call-hangup", "emergency"}
    if pop:
        on |= {"create-ticket"}
    return on


async def enabled(page: Any) -> set[str]:
    """The controls enabled on the page now (every emergency button counts as one)."""
    ids: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll(
                 '#seat-panel button, #seat-panel select, #call-panel button, #call-panel select, '
                 + '#create-ticket')]
                 .filter((n) => !n.disabled)
                 .map((n) => n.classList.contains('emergency') ? 'emergency' : n.id)"""
    )
    return set(ids)


async def at_state(page: Any, state: str, **kw: Any) -> None:
    await page.wait_for_selector(f'#agent-state[data-state="{state}"]', timeout=20_000)
    want = expected(state, **kw)
    for _ in range(20):  # a hold answer or a pop can land a moment after the state
        if await enabled(page) == want:
            return
        await page.wait_for_timeout(100)
    assert await enabled(page) == want, (state, kw)


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / name)


@pytest.fixture
def long_wrapup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_ACD__WRAPUP_S", str(WRAPUP_S))


@pytest.fixture
async def ami(engine: EngineProcess) -> AsyncIterator[AmiTestClient]:
    client = AmiTestClient(engine.cfg)
    await client.connect()
    yield client
    client.close()


async def test_controls_follow_the_agent_and_the_call_at_1366x768(
    long_wrapup: None,
    engine: EngineProcess,
    ami: AmiTestClient,
    browser: Any,  # noqa: F811
) -> None:
    add_test_users(engine)
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(engine.base + "/desk/login")
    await page.fill("#name", "agent1001")
    await page.fill("#password", PASSWORDS["agent1001"])
    await page.click("#login-submit")
    await page.wait_for_url("**/desk/agent")
    await page.wait_for_selector('#conn[data-state="up"]')

    await at_state(page, "logged_out", pop=False)
    await page.click("#seat-login")
    await at_state(page, "not_ready", pop=False)
    await page.click("#ready")
    await at_state(page, "ready", pop=False)
    await shot(page, "agent-idle.png")

    # Ringing: the agent at a phone that never answers; the caller withheld the number.
    await page.click("#seat-logout")
    await at_state(page, "logged_out", pop=False)
    engine.agent("1001", "login", {"seat": "Local/1001@test-noanswer"})
    engine.agent("1001", "ready")
    await at_state(page, "ready", pop=False)
    await ami.call_12345(WITHHELD, dtmf="1", hold=120)
    await page.wait_for_selector("#pop:not([hidden])", timeout=30_000)
    await at_state(page, "ringing", pop=True)
    assert await page.text_content("#pop-caller") == "未知号码"
    assert await page.input_value("#f-caller_number") == ""
    assert "振铃" in (await page.text_content("#call-timer") or "")
    await shot(page, "agent-ringing.png")
    # Not answered (ring timeout): not ready; the untouched pop goes to the shift's list.
    await at_state(page, "not_ready", pop=False)
    await page.wait_for_selector("#pop", state="hidden")
    assert await page.locator("#pop-archive li").count() == 1

    # Back at the agent's own phone (answers after a ring): the waiting call comes again.
    await page.click("#seat-logout")
    await at_state(page, "logged_out", pop=False)
    await page.click("#seat-login")
    await at_state(page, "not_ready", pop=False)
    await page.click("#ready")
    await at_state(page, "on_call", pop=True)
    await page.wait_for_selector('#call-timer[data-kind="on_call"]')
    # The ticket form whole on the screen, nothing scrolled, at 1366x768.
    box = await page.evaluate(
        """() => { const r = document.getElementById('ticket-form').getBoundingClientRect();
                   return { top: r.top, bottom: r.bottom, scroll: window.scrollY,
                            height: window.innerHeight }; }"""
    )
    assert box["scroll"] == 0 and box["top"] >= 0 and box["bottom"] <= box["height"], box
    await shot(page, "agent-talking.png")

    await page.click("#call-hold")
    await page.wait_for_selector('#hold-state[data-state="held"]')
    await at_state(page, "on_call", held="held", pop=True)
    await page.click("#call-resume")
    await page.wait_for_selector('#hold-state[data-state="talking"]')
    await at_state(page, "on_call", pop=True)
    # "Not ready after this call", then withdrawn: the buttons swap each time.
    await page.click("#not-ready")
    await page.wait_for_selector("#agent-reason:not(:empty)")
    await at_state(page, "on_call", after_call=True, pop=True)
    await page.click("#ready")
    await page.wait_for_selector("#agent-reason:empty", state="attached")
    await at_state(page, "on_call", pop=True)

    # The subject from the tree by search: typing 供水 (water supply) chooses 02.01 and leaves
    # it with its parent 02 (公用事业) in view; a branch without the word is hidden.
    await page.fill("#f-subject-search", "供水")
    assert await page.input_value("#f-subject_code") == "02.01"
    tree = await page.evaluate(
        """() => Object.fromEntries([...document.getElementById('f-subject_code').options]
                 .map((o) => [o.value, !o.hidden]))"""
    )
    assert tree["02.01"] and tree["02"] and not tree["02.02"], tree
    assert sum(tree.values()) < len(tree) / 2, tree
    # A ticket filed during the call: linked to it, so its page will offer the recording.
    await page.fill("#f-description", "市民反映小区停水")
    await page.click("#create-ticket")
    await page.wait_for_selector("#ticket-link:not(:empty)")
    number = await page.text_content("#ticket-link")
    assert number
    await page.click("#call-hangup")
    await at_state(page, "wrap_up", pop=True)
    await page.wait_for_selector('#call-timer[data-kind="wrap_up"]')
    assert "话后处理剩余" in (await page.text_content("#call-timer") or "")
    await shot(page, "agent-wrap-up.png")
    await page.click("#ready")
    await at_state(page, "ready", pop=False)
    await page.wait_for_selector("#pop", state="hidden")
    assert await page.is_visible("#no-call")
    assert await page.locator("#pop-archive li").count() == 2

    # Every state the page went through showed exactly the controls its table allows.
    log = await page.evaluate(
        "window.hotlineLog.filter(e => e.kind === 'controls').map(e => e.data)"
    )
    assert {entry["state"] for entry in log} >= {
        "logged_out",
        "not_ready",
        "ready",
        "ringing",
        "on_call",
        "wrap_up",
    }
    for entry in log:
        shown = {name for name, on in entry["enabled"].items() if on}
        want = expected(
            entry["state"], held=entry["held"], after_call=entry["after_call"], pop=entry["pop"]
        )
        assert shown == want, entry
    page_table = await page.evaluate("window.hotlineControls()")
    assert set(page_table) == set(SEAT_BUTTONS + CALL_BUTTONS)

    # The ticket's page: the call with its recording (registered once the call has ended).
    for _ in range(30):
        await page.goto(engine.base + f"/desk/tickets/{number}")
        await page.wait_for_function(
            "() => window.hotlineLog.filter(e => e.kind === 'recordings').length > 0"
        )
        if await page.locator("#t-calls audio[data-recording]").count():
            break
        await page.wait_for_timeout(1000)
    assert await page.locator("#t-calls audio[data-recording]").count() >= 1
    assert await page.get_attribute("#t-subject", "data-code") == "02.01"  # as searched
    await context.close()
    queued = [ev for ev in ami.events if user_event("HotlineQueued")(ev)]
    assert queued, "the citizen's call never queued"
