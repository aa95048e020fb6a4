"""The dispatch catalogue, hot spots and the three rates through the running engine and Chromium:

* `hotline catalogue import` puts the catalogue in force in the running engine (polled);
* the agent's ticket form suggests the catalogue's unit for the subject and the address;
* five tickets on one subject in one area within the window raise a hot spot: an MQTT event the
  *display* user may read (codes, names and counts; no number, address or description) and a
  banner on the wallboard;
* the unit ranking page (三率) lists the units, Chinese throughout, no serious axe violation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from hotline.base.credentials import mqtt_display_password
from tests.conftest import EngineProcess
from tests.desk.test_desk_pages_browser import check_page, open_as, shot
from tests.desk.test_desktop_browser import browser  # noqa: F401  (the fixture)
from tests.support.desk import add_test_users

# A dispatch through the engine counts a deadline: issue 12, also run in 2027 and 2028.
pytestmark = [pytest.mark.asterisk, pytest.mark.calendar]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "dispatch-catalogue.json"


@contextlib.asynccontextmanager
async def display_feed(engine: EngineProcess) -> AsyncIterator[list[tuple[str, dict[str, Any]]]]:
    """What a wall display (the display user) receives under <prefix>/hotspots/#."""
    cfg, got = engine.cfg, []
    ready = asyncio.Event()

    async def run() -> None:
        async with aiomqtt.Client(
            hostname=cfg.mqtt.host, port=cfg.mqtt.port, username=cfg.mqtt.display_username,
            password=mqtt_display_password(cfg),
        ) as client:  # fmt: skip
            await client.subscribe(f"{cfg.mqtt.topic_prefix}/hotspots/#", qos=1)
            ready.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes | bytearray)
                got.append((str(message.topic), json.loads(message.payload)))

    task = asyncio.ensure_future(run())
    try:
        await asyncio.wait_for(ready.wait(), 10)
    except TimeoutError:
        task.cancel()
        raise AssertionError("MQTT broker not reachable as the display user") from None
    try:
        yield got
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def open_ended(example: Path, to: Path) -> Path:
    """The shipped catalogue with no row ending: its 甘井子区 row ends on 2026-12-31, and the
    engine suggests by today's date (a test meaning the same in any year, issue 12)."""
    catalogue = json.loads(example.read_text(encoding="utf-8"))
    for row in catalogue["entries"]:
        row.pop("valid_to", None)
    to.write_text(json.dumps(catalogue, ensure_ascii=False), encoding="utf-8")
    return to


def suggest(engine: EngineProcess, address: str) -> dict[str, Any]:
    q = urllib.parse.urlencode({"subject_code": "02.01", "address": address})
    found: dict[str, Any] = engine.api("GET", f"/api/v1/catalogue/suggest?{q}")
    return found


async def test_catalogue_hot_spot_banner_and_unit_ranking(
    engine: EngineProcess,
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    add_test_users(engine)
    catalogue = open_ended(EXAMPLE, tmp_path / "catalogue.json")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hotline", "-c", str(engine.setup.path), "catalogue", "import",
         str(catalogue), "--by", "test"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 15  # the engine polls the store (calendar_poll_s)
    while suggest(engine, "西岗区新开路1号")["area"] != "xigang":
        assert time.monotonic() < deadline, "the running engine never read the imported catalogue"
        await asyncio.sleep(0.3)
    assert suggest(engine, "西岗区新开路1号")["suggestion"]["lead_unit"] == "water-company"

    # The agent's form: the catalogue's unit for the subject and the address typed.
    agent = await open_as(browser, engine, "agent1001", "/desk/agent")
    # The form shows with a call's pop; its fields and their listeners are there before that.
    await agent.evaluate("""() => {
      const subject = document.getElementById("f-subject_code");
      subject.value = "02.01";
      subject.dispatchEvent(new Event("change"));
      const address = document.getElementById("f-address");
      address.value = "甘井子区红旗西路12号";
      address.dispatchEvent(new Event("input"));
    }""")
    await agent.wait_for_selector(
        '#f-suggested-unit[data-unit="water-company-north"]', state="attached", timeout=10_000
    )
    assert "甘井子区" in (await agent.text_content("#f-suggested-unit") or "")

    board = await open_as(browser, engine, "super1", "/desk/wallboard")
    await board.wait_for_selector('#conn[data-state="up"]')
    assert await board.is_hidden("#hotspots")
    async with display_feed(engine) as feed:
        for i in range(5):
            engine.api("POST", "/api/v1/tickets", {
                "category": "help", "subject_code": "02.01", "description": f"停水第{i}户",
                "caller_number": f"1390000{i:04d}", "address": f"西岗区新开路{i}号",
                "actor": "intake"})  # fmt: skip
        deadline = time.monotonic() + 10
        while not feed:
            assert time.monotonic() < deadline, "no hot-spot event reached the display user"
            await asyncio.sleep(0.1)
    topic, event = feed[-1]
    assert topic == f"{engine.cfg.mqtt.topic_prefix}/hotspots/xigang/02.01"
    assert (event["event"], event["count"], event["area_name"]) == ("hotspot", 5, "西岗区")
    text = json.dumps(feed, ensure_ascii=False)
    assert "1390000" not in text and "新开路" not in text and "停水" not in text
    await board.wait_for_selector("#hotspots:not([hidden])", timeout=10_000)
    banner = await board.text_content("#hotspots") or ""
    assert "西岗区" in banner and "供水" in banner and "5" in banner, banner
    await check_page(board, "wallboard with a hot spot")
    await shot(board, "wallboard-hotspot.png")

    # A dispatch answered, so the ranking has a unit; then the ranking page.
    number = engine.api("POST", "/api/v1/tickets", {
        "category": "help", "subject_code": "02.02", "description": "停电",
        "caller_number": "13900009999", "actor": "intake"})["number"]  # fmt: skip
    engine.api("POST", f"/api/v1/tickets/{number}/actions",
               {"action": "Dispatch", "actor": "dispatcher", "unit": "power-supply"})  # fmt: skip
    await board.goto(engine.base + "/desk/units")
    row = board.locator('#units tr[data-unit="power-supply"]')
    assert await row.count() == 1
    # Dispatched just now: within its window, not yet counted for or against the unit.
    assert await row.locator('td[data-rate="response_rate"]').text_content() == "—"
    await check_page(board, "units")
    await shot(board, "units.png")
