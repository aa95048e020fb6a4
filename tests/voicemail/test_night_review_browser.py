"""The whole night flow in a real browser (Debian's Chromium via Playwright) against the engine
and the real Asterisk: out of hours a citizen leaves a voicemail (espeak-ng Korean speech, the
Korean Vosk model standing in for Mandarin); it becomes a ticket awaiting review; the reviewer
logs in, sees the transcript on the review page, plays the message, calls the citizen back
through Asterisk (the reviewer's phone first, then the citizen's: a test line that answers),
sees the outcome recorded, and accepts and dispatches the ticket. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.calls.test_call_path import arrived_call_id
from tests.conftest import ARTIFACTS, EngineProcess
from tests.desk.test_desktop_browser import browser  # noqa: F401  (fixture)
from tests.speech.test_speech_ivr import korean_prompt
from tests.support.calls import AmiTestClient, mqtt_collector, user_event
from tests.support.desk import PASSWORDS, add_user
from tests.voicemail.test_voicemail_tickets import WORD, closed_engine  # noqa: F401

pytestmark = [pytest.mark.asterisk, pytest.mark.calendar]  # calendar: issue 12


@pytest.fixture
def night_engine(
    closed_engine: EngineProcess,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    # The citizen's phone for callbacks: a test line that answers and talks.
    monkeypatch.setenv("HOTLINE_ACD__CALLBACK_DIAL", "Local/{number}@test-department")
    monkeypatch.setenv("HOTLINE_REVIEW__RING_S", "15")
    closed_engine.start()
    yield closed_engine


async def test_night_shift_reviews_a_voicemail_calls_back_and_dispatches_it(
    night_engine: EngineProcess,
    asterisk: Any,
    browser: Any,  # noqa: F811
    setup_check: None = None,
) -> None:
    engine = night_engine
    prompt = korean_prompt(asterisk)
    add_user(engine, "review1", "reviewer", "--agent", "1001")
    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        async with mqtt_collector(engine.cfg) as mqtt:
            await ami.call_12345(
                "13655550001", dtmf="", dtmf_delay=0, hold=15, variables={"TEST_PLAY": prompt}
            )
            call_id = await arrived_call_id(mqtt, "13655550001")
            _, made = await mqtt.wait_for(f"calls/{call_id}/voicemail_ticket", timeout=90)
        number = str(made["ticket"])

        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        await page.goto(engine.base + "/desk/login")
        await page.fill("#name", "review1")
        await page.fill("#password", PASSWORDS["review1"])
        await page.click("#login-submit")
        await page.wait_for_url("**/desk/review")  # a reviewer lands on the review
        item = page.locator(f"#vm-{number}")
        await item.wait_for()
        transcript = await item.locator("textarea[name=description]").input_value()
        assert WORD in transcript.replace(" ", ""), transcript
        assert await item.locator(".caller").inner_text() == "13655550001"
        assert "closed>voicemail" in await item.locator(".path").inner_text()

        # The reviewer plays the message: the browser fetches and decodes the real audio.
        player = item.locator("audio.player")
        await player.evaluate("a => { a.muted = true; return a.play(); }")
        await page.wait_for_function(
            "sel => { const a = document.querySelector(sel); return a && a.currentTime > 0.5; }",
            arg=f"#vm-{number} audio.player",
            timeout=15000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "night-review.png"), full_page=True)

        # Call back: the reviewer's seat (agent 1001's test phone) rings first, then the citizen.
        await item.locator("form.callback button").click()
        await page.wait_for_url("**/desk/review?note=done")
        result = await ami.wait_event(user_event("HotlineReviewCallback"), timeout=40)
        assert result["CallId"] == call_id and result["Outcome"] == "ANSWER"
        for _ in range(30):
            await page.goto(engine.base + "/desk/review")
            attempts = await page.locator(f"#vm-{number} ol.attempts").all_inner_texts()
            if attempts and "reached" in attempts[0]:
                break
            await page.wait_for_timeout(300)
        assert attempts and "reached" in attempts[0], attempts

        # Accept with the corrected transcript and dispatch it to the water company.
        form = page.locator(f"#vm-{number} form.accept")
        await form.locator("textarea[name=description]").fill(f"{transcript}（复核：楼道漏水）")
        await form.locator("select[name=category]").select_option("help")
        await form.locator("input[name=unit]").fill("water-co")
        await form.locator("button").click()
        await page.wait_for_url("**/desk/review?note=done")
        assert await page.locator(f"#vm-{number}").count() == 0  # no longer waiting
        await page.screenshot(path=str(ARTIFACTS / "night-review-done.png"), full_page=True)
    finally:
        ami.close()
    ticket = engine.api("GET", f"/api/v1/tickets/{number}")
    assert ticket["state"] == "dispatched" and ticket["unit"] == "water-co", ticket
    assert "复核：楼道漏水" in ticket["description"]
    events = engine.api("GET", f"/api/v1/tickets/{number}/events")["events"]
    assert [e["action"] for e in events][-2:] == ["AcceptVoicemail", "Dispatch"]
    assert events[-2]["actor"] == "review1"
