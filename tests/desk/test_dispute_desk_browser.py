"""Disputes, re-dispatch, merging and the 双非 flag on the web desktop (issue 17), through the
running engine and Chromium, each page Chinese throughout with no serious axe violation:

1. a unit disputes its dispatched ticket from the ticket page (a reason is required); refused:
   a ticket whose return window has ended (the button says why; forced, the lifecycle's refusal
   is shown in Chinese), a ticket it only assists on (button off; the desk API answers 403) and
   a ticket of another unit altogether (404: the answer does not confirm the ticket exists);
2. the supervisor's dispute page lists the pending dispute with the unit's reason and the
   catalogue's suggestion first; re-dispatching to the disputing unit is refused, to the
   suggestion done; another dispute is confirmed, after which the unit may not dispute again;
3. an agent merges a repeated matter into a lead found by its number (a number that is no
   ticket and the ticket itself are refused); the lead lists the merged caller;
4. a call 110 transferred in shows its 双非 flag on the ticket; a supervisor clears it with a
   reason (required) that the event log keeps, and the report's count follows; an agent sees
   the flag without the form.
The 110 handoff row is written as the engine writes it for a call from 110 (FollowupStore);
the live path of such a call through Asterisk is tests/integration/test_followup_live.py.
Screenshots: docs/screenshots/ticket-dispute.png, disputes.png, ticket-merge.png,
ticket-double-non.png.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.base.daytypes import CENTRE_TZ
from hotline.followup.store import FollowupStore, Handoff
from hotline.tickets.lifecycle import Dispatch, Dispute
from hotline.tickets.service import TicketService, settings_from_config
from hotline.tickets.store import TicketStore
from hotline.tickets.values import TicketDraft, Viewer
from tests.conftest import EngineProcess
from tests.desk.test_desk_pages_browser import check_page, open_as, shot
from tests.desk.test_desktop_browser import browser  # noqa: F401  (the fixture)
from tests.support.desk import add_test_users

pytestmark = pytest.mark.asterisk

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "dispatch-catalogue.json"
# A POST from the page itself: the session's cookie and CSRF token, as the page's script sends.
PAGE_POST = """async ([url, body]) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const r = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify(body)});
  return {status: r.status, body: await r.json()};
}"""


def service(engine: EngineProcess) -> TicketService:
    """The engine's ticket store, from the test's side (setting up what a test needs)."""
    return TicketService(
        TicketStore(engine.cfg.database_url), settings_from_config(engine.cfg.tickets)
    )


def new_ticket(engine: EngineProcess, caller: str, **extra: Any) -> str:
    # 供暖 (02.04): other tests count hot spots of 供水 in 西岗区 within the hour; stay apart.
    body = {"category": "help", "subject_code": "02.04", "description": "暖气不热",
            "caller_number": caller, "actor": "intake", **extra}  # fmt: skip
    number: str = engine.api("POST", "/api/v1/tickets", body)["number"]
    return number


def dispatch(engine: EngineProcess, number: str, unit: str, *co_units: str) -> None:
    body = {"action": "Dispatch", "actor": "dispatcher", "unit": unit, "co_units": list(co_units)}
    engine.api("POST", f"/api/v1/tickets/{number}/actions", body)


async def import_catalogue(engine: EngineProcess) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hotline", "-c", str(engine.setup.path), "catalogue", "import",
         str(EXAMPLE), "--by", "test"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    q = urllib.parse.urlencode({"subject_code": "02.01", "address": "西岗区新开路1号"})
    deadline = time.monotonic() + 15  # the engine polls the store (calendar_poll_s)
    while engine.api("GET", f"/api/v1/catalogue/suggest?{q}")["area"] != "xigang":
        assert time.monotonic() < deadline, "the running engine never read the imported catalogue"
        await asyncio.sleep(0.3)


async def test_a_unit_disputes_and_the_supervisor_decides(
    engine: EngineProcess,
    browser: Any,  # noqa: F811
) -> None:
    add_test_users(engine)  # unit1 is water-co
    await import_catalogue(engine)
    mine = new_ticket(engine, "13911110001", address="西岗区新开路1号")
    dispatch(engine, mine, "water-co")
    assisted = new_ticket(engine, "13911110002")
    dispatch(engine, assisted, "gas-company", "water-co")
    foreign = new_ticket(engine, "13911110003")
    dispatch(engine, foreign, "gas-co")
    # Dispatched thirty days ago: the return window (working days) is long over.
    svc, then = service(engine), datetime.now(UTC) - timedelta(days=30)
    late = svc.create(
        TicketDraft(category="help", description="暖气不热", subject_code="02.04",
                    caller_number="13911110004"),
        actor="intake", at=then,
    ).number  # fmt: skip
    svc.act(late, Dispatch(actor="dispatcher", at=then + timedelta(minutes=5), unit="water-co"),
            Viewer("dispatcher"))  # fmt: skip

    unit = await open_as(browser, engine, "unit1", "/desk/")
    # Refused: the window ended. The button is off and says so; forced, the lifecycle refuses.
    await unit.goto(engine.base + f"/desk/tickets/{late}")
    assert await unit.is_disabled("#dispute-submit")
    assert await unit.get_attribute("#dispute-off", "data-why") == "window"
    assert "截止" in (await unit.text_content("#dispute-off") or "")
    await check_page(unit, "ticket, dispute window over")
    await unit.evaluate("""() => { for (const id of ["dispute-reason", "dispute-submit"])
      document.getElementById(id).disabled = false; }""")
    await unit.fill("#dispute-reason", "不属于本单位")
    await unit.click("#dispute-submit")
    await unit.wait_for_selector("#dispute-error:not([hidden])")
    assert "异议期限已于" in (await unit.text_content("#dispute-error") or "")
    assert await unit.get_attribute("#t-state", "data-state") == "dispatched"

    # Refused: a ticket it only assists on (403), one of another unit (not even seen: 404).
    await unit.goto(engine.base + f"/desk/tickets/{assisted}")
    assert await unit.is_disabled("#dispute-submit")
    assert await unit.get_attribute("#dispute-off", "data-why") == "co_unit"
    answer = await unit.evaluate(PAGE_POST, [f"/desk/api/tickets/{assisted}/dispute",
                                             {"reason": "不是我们的"}])  # fmt: skip
    assert (answer["status"], answer["body"]["code"]) == (403, "not_lead_unit"), answer
    answer = await unit.evaluate(PAGE_POST, [f"/desk/api/tickets/{foreign}/dispute",
                                             {"reason": "不是我们的"}])  # fmt: skip
    assert answer["status"] == 404, answer
    # Without the CSRF token the desk refuses before anything else.
    status = await unit.evaluate("""async (url) => (await fetch(url, {method: "POST",
      credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: "{}"})).status""", f"/desk/api/tickets/{mine}/dispute")  # fmt: skip
    assert status == 403

    # Its own ticket, within the window, from the unit's list of open tickets (its home page):
    # a reason is required, then the dispute is sent.
    await unit.goto(engine.base + "/desk/")
    listed = unit.locator(f'#unit-tickets tr[data-number="{mine}"]')
    assert "已派单" in (await listed.text_content() or "")
    assert await unit.locator(f'#unit-tickets tr[data-number="{foreign}"]').count() == 0
    await check_page(unit, "unit home")
    await listed.locator("a").click()
    await unit.wait_for_url(f"**/desk/tickets/{mine}")
    assert await unit.is_enabled("#dispute-submit")
    assert await unit.is_visible("#dispute-until")
    await check_page(unit, "ticket, dispute open")
    await shot(unit, "ticket-dispute.png")
    await unit.click("#dispute-submit")
    await unit.wait_for_selector("#dispute-error:not([hidden])")
    assert "请填写理由" in (await unit.text_content("#dispute-error") or "")
    await unit.fill("#dispute-reason", "该小区供暖由供热办负责，不属于本单位")
    await unit.fill("#dispute-proposed", "water-company-north")
    await unit.click("#dispute-submit")
    await unit.wait_for_selector('#t-state[data-state="disputed"]')
    assert await unit.text_content("#t-state") == "派单异议待审核"

    # The supervisor's review: the pending dispute, the catalogue's unit first and chosen.
    board = await open_as(browser, engine, "super1", "/desk/wallboard")
    await board.click("#disputes-link")
    await board.wait_for_url("**/desk/disputes")
    box = board.locator(f"#d-{mine}")
    assert "不属于本单位" in (await box.locator(".dispute-reason").text_content() or "")
    radios = box.locator('input[type="radio"]')
    assert await radios.first.get_attribute("value") == "heating-office"  # the catalogue's
    assert await radios.first.is_checked()
    values = [await radios.nth(i).get_attribute("value") for i in range(await radios.count())]
    assert "water-company-north" in values and "water-co" not in values, values
    await check_page(board, "disputes")
    await shot(board, "disputes.png")
    # Refused by the lifecycle: back to the unit that disputed it (typed in).
    await box.locator(".rd-other").fill("water-co")
    await box.locator(".rd-submit").click()
    await board.wait_for_selector(f"#d-{mine} .d-error:not([hidden])")
    assert "维持原派" in (await box.locator(".d-error").text_content() or "")
    await box.locator(".rd-other").fill("")
    await box.locator(".rd-note").fill("按派单目录改派")
    await box.locator(".rd-submit").click()
    await board.wait_for_selector(f"#d-{mine}", state="detached")
    await board.goto(engine.base + f"/desk/tickets/{mine}")
    assert await board.get_attribute("#t-state", "data-state") == "dispatched"
    assert await board.text_content("#t-unit code") == "heating-office"
    assert await board.locator('#t-events tr[data-action="Dispute"]').count() == 1
    assert await board.locator('#t-events tr[data-action="Redispatch"]').count() == 1

    # Another dispute, confirmed with a reason: the unit keeps it and may not dispute again.
    kept = new_ticket(engine, "13911110005")
    dispatch(engine, kept, "water-co")
    svc.act(kept, Dispute(actor="unit1", at=datetime.now(UTC), reason="不归我们管"),
            Viewer("unit", "water-co"))  # fmt: skip
    await board.goto(engine.base + "/desk/disputes")
    other = board.locator(f"#d-{kept}")
    await other.locator(".cf-submit").click()
    await board.wait_for_selector(f"#d-{kept} .d-error:not([hidden])")
    assert "请填写理由" in (await other.locator(".d-error").text_content() or "")
    await other.locator(".cf-reason").fill("属于本单位管辖范围")
    await other.locator(".cf-submit").click()
    await board.wait_for_selector(f"#d-{kept}", state="detached")
    await unit.goto(engine.base + f"/desk/tickets/{kept}")
    assert await unit.get_attribute("#t-state", "data-state") == "dispatched"
    assert await unit.is_disabled("#dispute-submit")
    assert await unit.get_attribute("#dispute-off", "data-why") == "confirmed"

    # English complete: the same page in the other language.
    await board.click("#lang-switch")
    await board.wait_for_url("**/desk/disputes")
    assert await board.text_content("h1") == "Dispatch disputes to review"


async def test_merging_and_the_double_non_flag(
    engine: EngineProcess,
    browser: Any,  # noqa: F811
) -> None:
    add_test_users(engine)
    lead = new_ticket(engine, "13922220001", address="中山区人民路5号")
    dispatch(engine, lead, "water-co")
    repeat = new_ticket(engine, "13922220002", address="中山区人民路5号")

    agent = await open_as(browser, engine, "agent1001", "/desk/agent")
    await agent.goto(engine.base + f"/desk/tickets/{repeat}")
    # Refused: a number that is no ticket, and the ticket itself.
    await agent.fill("#merge-lead", "20000101-999999")
    await agent.click("#merge-search")
    await agent.wait_for_selector("#merge-error:not([hidden])")
    assert "没有这个编号的工单" in (await agent.text_content("#merge-error") or "")
    await agent.fill("#merge-lead", repeat)
    await agent.click("#merge-search")
    await agent.wait_for_selector("#merge-found:not([hidden])")
    await agent.click("#merge-submit")
    await agent.wait_for_selector("#merge-error:not([hidden])")
    assert "不能并入自己" in (await agent.text_content("#merge-error") or "")
    # Found by its number: the lead's state, subject and caller, then merged into it.
    await agent.fill("#merge-lead", lead)
    await agent.click("#merge-search")
    await agent.wait_for_selector("#merge-found:not([hidden])")
    brief = await agent.text_content("#merge-brief") or ""
    assert lead in brief and "已派单" in brief and "13922220001" in brief, brief
    assert "供暖" in brief, brief
    await agent.fill("#merge-note", "同一地址暖气不热，重复来电")
    await check_page(agent, "ticket, merge")
    await shot(agent, "ticket-merge.png")
    await agent.click("#merge-submit")
    await agent.wait_for_url(f"**/desk/tickets/{lead}")
    merged = agent.locator("#t-merged li")
    assert await merged.count() == 1
    assert "13922220002" in (await merged.first.text_content() or "")
    await agent.goto(engine.base + f"/desk/tickets/{repeat}")
    assert await agent.get_attribute("#t-state", "data-state") == "merged"
    assert await agent.locator("#merge-panel").count() == 0  # merged: no second merge

    # 双非: a call 110 transferred in, flagged, linked to a ticket.
    call_id = f"110in-{int(time.time() * 1000)}"
    store = FollowupStore(engine.cfg.database_url)
    try:
        came = Handoff(call_id, "in", "110", "from_110", "", datetime.now(UTC),
                       reason="110 转入", outcome="answered", double_non=True)  # fmt: skip
        store.add_handoff(came)
    finally:
        store.dispose()
    flagged = new_ticket(engine, "13922220003")
    engine.api("POST", f"/api/v1/tickets/{flagged}/links", {"calls": [call_id]})
    day = datetime.now(CENTRE_TZ).date().isoformat()

    def double_non_count() -> int:
        q = urllib.parse.urlencode({"from": day, "to": day})
        count: int = engine.api("GET", f"/api/v1/reports?{q}")["linkage"]["double_non"]
        return count

    before = double_non_count()
    await agent.goto(engine.base + f"/desk/tickets/{flagged}")
    row = agent.locator(f'#t-from-110 li[data-call="{call_id}"]')
    assert await row.get_attribute("data-double-non") == "true"
    assert "双非：是" in (await row.text_content() or "")
    assert await row.locator("form").count() == 0  # an agent sees it, a supervisor judges

    board = await open_as(browser, engine, "super1", "/desk/wallboard")
    await board.goto(engine.base + f"/desk/tickets/{flagged}")
    row = board.locator(f'#t-from-110 li[data-call="{call_id}"]')
    await check_page(board, "ticket, 双非")
    await shot(board, "ticket-double-non.png")
    await row.locator(".dn-submit").click()
    await board.wait_for_selector(".dn-error:not([hidden])")
    assert "请填写理由" in (await row.locator(".dn-error").text_content() or "")
    await row.locator(".dn-reason").fill("经核实属于警情，已由110处置")
    await row.locator(".dn-submit").click()
    await board.wait_for_selector(f'#t-from-110 li[data-call="{call_id}"][data-double-non="false"]')
    logged = board.locator('#t-events tr[data-action="DoubleNonSet"]')
    assert await logged.count() == 1
    text = await logged.text_content() or ""
    assert "取消双非" in text and "经核实属于警情" in text, text
    assert double_non_count() == before - 1
    # Set again: the flag and the count come back, a second line in the log.
    row = board.locator(f'#t-from-110 li[data-call="{call_id}"]')
    await row.locator(".dn-reason").fill("复核：不属于紧急或警情")
    await row.locator(".dn-submit").click()
    await board.wait_for_selector(f'#t-from-110 li[data-call="{call_id}"][data-double-non="true"]')
    assert await board.locator('#t-events tr[data-action="DoubleNonSet"]').count() == 2
    assert double_non_count() == before
