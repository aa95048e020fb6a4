"""Ticket and report routes over HTTP, on the engine's application (bearer token), SQLite store.

Hostile input gets a 400 whose message names the field; nothing reaches the database.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.acd.http import make_app
from hotline.app.migrate import upgrade
from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.http import add_ticket_routes
from hotline.tickets.reports import Period, build_report
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

TOKEN = "test-token"
NOW = datetime(2026, 9, 30, 10, 0, tzinfo=CENTRE_TZ)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WATER = {**AUTH, "X-Hotline-Role": "unit", "X-Hotline-Unit": "water"}
GAS = {**AUTH, "X-Hotline-Role": "unit", "X-Hotline-Unit": "gas"}
DRAFT = {
    "category": "complaint",
    "description": "自来水公司维修人员态度恶劣",
    "subject_code": "02.01",
    "caller_number": "13800138000",
    "caller_name": "张三",
    "address": "人民路5号",
    "about_unit": "water",
    "actor": "agent-7",
}


CLOCK = web.AppKey("clock", dict)
SERVICE = web.AppKey("service", TicketService)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("http") / "template.db"
    upgrade(f"sqlite:///{path}")  # once: each test gets a copy of the migrated file
    return path


@pytest.fixture
async def client(migrated: Path, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    shutil.copy(migrated, tmp_path / "hotline.db")
    store = TicketStore(f"sqlite:///{tmp_path / 'hotline.db'}")
    clock = {"now": NOW}
    service = TicketService(store, clock=lambda: clock["now"])
    app = make_app(TOKEN, agents=None, status=dict)  # type: ignore[arg-type]
    add_ticket_routes(app, service, clock=lambda: clock["now"])
    app[CLOCK] = clock
    app[SERVICE] = service
    async with TestClient(TestServer(app)) as c:
        yield c
    store.dispose()


async def post(c: TestClient[Any, Any], path: str, body: Any, headers: Any = AUTH) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return await c.post(path, data=data, headers={**headers, "Content-Type": "application/json"})


async def test_needs_the_token(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/api/v1/tickets")).status == 401
    assert (await client.get("/api/v1/reports?from=2026-09-30&to=2026-09-30")).status == 401


async def test_ticket_round_trip_and_confidentiality(client: TestClient[Any, Any]) -> None:
    resp = await post(client, "/api/v1/tickets", DRAFT)
    assert resp.status == 201, await resp.text()
    ticket = await resp.json()
    n = ticket["number"]
    assert ticket["state"] == "created" and ticket["caller_name"] == "张三"

    resp = await post(client, f"/api/v1/tickets/{n}/actions",
                      {"action": "Dispatch", "actor": "d-1", "unit": "water",
                       "co_units": ["district-a"]})  # fmt: skip
    body = await resp.json()
    assert resp.status == 200, body
    assert body["state"] == "dispatched" and body["reply_due_at"] is not None

    seen = await (await client.get(f"/api/v1/tickets/{n}", headers=WATER)).json()
    assert seen["redacted"] and seen["caller_name"] == "" and seen["caller_number"] == ""
    assert (await client.get(f"/api/v1/tickets/{n}", headers=GAS)).status == 404
    assert (await client.get(f"/api/v1/tickets/{n}/events", headers=GAS)).status == 404
    listed = await (await client.get("/api/v1/tickets?view=open", headers=GAS)).json()
    assert listed == {"tickets": []}

    # The unit signs; a platform action from a unit is forbidden; an illegal one conflicts.
    resp = await post(client, f"/api/v1/tickets/{n}/actions",
                      {"action": "SignFor", "actor": "clerk"}, WATER)  # fmt: skip
    assert resp.status == 200
    resp = await post(client, f"/api/v1/tickets/{n}/actions",
                      {"action": "Archive", "actor": "clerk"}, WATER)  # fmt: skip
    assert resp.status == 403
    resp = await post(client, f"/api/v1/tickets/{n}/actions",
                      {"action": "SignFor", "actor": "clerk"}, WATER)  # fmt: skip
    assert resp.status == 409
    assert "SignFor is not allowed in state signed" in (await resp.json())["error"]
    events = await (await client.get(f"/api/v1/tickets/{n}/events", headers=AUTH)).json()
    assert [e["action"] for e in events["events"]] == ["Dispatch", "SignFor"]

    repeat = await (await client.get("/api/v1/tickets/repeats?caller=138-0013-8000",
                                     headers=AUTH)).json()  # fmt: skip
    assert repeat["repeat"] and [t["number"] for t in repeat["tickets"]] == [n]
    resp = await post(client, f"/api/v1/tickets/{n}/links", {"calls": ["1790000000.5"]})
    assert (await resp.json())["calls"] == ["1790000000.5"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**DRAFT, "address": "路" * 201}, "address: 201 characters, at most 200"),
        ({**DRAFT, "description": "a\u0000b"}, "description: contains the control character"),
        ('{"category": "help", "description": "\\ud800", "subject_code": "99"}',
         "description: is not valid Unicode"),
        ({**DRAFT, "adress": "typo"}, "adress: unknown field"),
        ({**DRAFT, "subject_code": "77"}, "subject_code: '77' is not in"),
        ({**DRAFT, "category": ["help"]}, "category:"),
        ({**DRAFT, "actor": 7}, "actor: must be text"),
        ("not json", "body: is not JSON"),
        ("[1, 2]", "body: must be a JSON object"),
    ],
)  # fmt: skip
async def test_hostile_intake_gets_400_naming_the_field(
    client: TestClient[Any, Any], body: Any, message: str
) -> None:
    resp = await post(client, "/api/v1/tickets", body)
    assert resp.status == 400
    assert (await resp.json())["error"].startswith(message)
    listed = await (await client.get("/api/v1/tickets?view=all", headers=AUTH)).json()
    assert listed == {"tickets": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "Explode", "actor": "x"}, "action: give one of"),
        ({"action": "Dispatch", "actor": "x", "unit": "w", "at": "2020-01-01"}, "at: unknown"),
        ({"action": "Dispatch", "actor": "x"}, "action: Dispatch:"),
        ({"action": "Dispatch", "actor": "x", "unit": 5}, "unit: must be text"),
        ({"action": "Dispatch", "actor": "x", "unit": "w", "co_units": "a"}, "co_units: must be"),
        ({"action": "Dispatch", "actor": "x", "unit": "w", "co_units": [1]}, "co_units: must be"),
        ({"action": "Dispatch", "actor": "x" * 65, "unit": "w"}, "actor: 65 characters"),
        ({"action": "Dispatch", "actor": "x", "unit": "a b"}, "unit: 'a b' is not a unit"),
    ],
)  # fmt: skip
async def test_hostile_actions_get_400(
    client: TestClient[Any, Any], body: Any, message: str
) -> None:
    n = (await (await post(client, "/api/v1/tickets", DRAFT)).json())["number"]
    resp = await post(client, f"/api/v1/tickets/{n}/actions", body)
    assert resp.status == 400
    assert (await resp.json())["error"].startswith(message)


async def test_bad_numbers_views_and_viewers(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/v1/tickets/202609300000018", headers=AUTH)  # wrong check digit
    assert resp.status == 400 and "check digit" in (await resp.json())["error"]
    resp = await client.get("/api/v1/tickets/202609300000019", headers=AUTH)  # valid, absent
    assert resp.status == 404
    resp = await client.get("/api/v1/tickets?view=everything", headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"].startswith("view:")
    resp = await client.get("/api/v1/tickets", headers={**AUTH, "X-Hotline-Role": "root"})
    assert resp.status == 400 and (await resp.json())["error"].startswith("role:")
    resp = await post(client, "/api/v1/tickets", DRAFT, WATER)
    assert resp.status == 403


async def test_deadline_lists_and_notices(client: TestClient[Any, Any]) -> None:
    n = (await (await post(client, "/api/v1/tickets", {**DRAFT, "category": "consultation"}))
         .json())["number"]  # fmt: skip
    await post(client, f"/api/v1/tickets/{n}/actions",
               {"action": "Dispatch", "actor": "d", "unit": "water"})  # fmt: skip
    clock = client.app[CLOCK]  # type: ignore[index]
    clock["now"] = NOW + timedelta(days=11)  # Oct 11: past the Oct 9 deadline
    overdue = await (await client.get("/api/v1/tickets?view=overdue", headers=WATER)).json()
    assert [t["number"] for t in overdue["tickets"]] == [n]
    resp = await post(client, "/api/v1/supervision-notices", {"actor": "sup"}, AUTH)
    assert resp.status == 403  # an agent does not issue notices
    sup = {**AUTH, "X-Hotline-Role": "supervisor"}
    issued = await (await post(client, "/api/v1/supervision-notices", {"actor": "sup"}, sup)).json()
    assert [x["ticket_number"] for x in issued["issued"]] == [n]
    mine = await (await client.get("/api/v1/supervision-notices", headers=WATER)).json()
    assert [x["reason"] for x in mine["notices"]] == ["overdue"]


async def test_report_over_http(client: TestClient[Any, Any]) -> None:
    await post(client, "/api/v1/tickets", DRAFT)
    resp = await client.get("/api/v1/reports?from=2026-09-30&to=2026-10-01", headers=AUTH)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["tickets"]["accepted"] == 1 and body["calls"]["inbound"] == 0
    assert len(body["hours"]) == 24
    service = client.app[SERVICE]  # type: ignore[index]
    expected = build_report(service.store.engine, Period.parse("2026-09-30", "2026-10-01"), NOW)
    assert body == json.loads(json.dumps(expected))  # the same figures as `hotline report`
    for query, message in [
        ("from=2026-10-02&to=2026-10-01", "to: 2026-10-01 is before from"),
        ("from=yesterday&to=2026-10-01", "from: 'yesterday' is not a date"),
        ("to=2026-10-01", "from: give a date"),
        ("from=2020-01-01&to=2026-10-01", "to: a report covers at most 366 days"),
    ]:
        resp = await client.get(f"/api/v1/reports?{query}", headers=AUTH)
        assert resp.status == 400 and (await resp.json())["error"].startswith(message)


async def test_dispute_survey_merge_ranking_and_catalogue_over_http(
    client: TestClient[Any, Any],
) -> None:
    desk = {**AUTH, "X-Hotline-Role": "dispatcher"}
    survey_ivr = {**AUTH, "X-Hotline-Role": "callback"}
    n = (await (await post(client, "/api/v1/tickets", {**DRAFT, "category": "help"})).json())[
        "number"
    ]
    steps = [({"action": "Dispatch", "actor": "d", "unit": "gas"}, desk),
             ({"action": "Dispute", "actor": "g", "reason": "水管", "proposed_unit": "water"}, GAS),
             ({"action": "Redispatch", "actor": "d", "unit": "water"}, desk),
             ({"action": "SignFor", "actor": "w"}, WATER),
             ({"action": "StartWork", "actor": "w"}, WATER),
             ({"action": "CloseByUnit", "actor": "w", "result": "修好了"}, WATER),
             ({"action": "Review", "actor": "s", "approved": True}, desk),
             ({"action": "RecordSurvey", "actor": "ivr", "outcome": "basically_satisfied",
               "solved": True, "method": "automated"}, survey_ivr)]  # fmt: skip
    for body, headers in steps:
        resp = await post(client, f"/api/v1/tickets/{n}/actions", body, headers)
        assert resp.status == 200, (body, await resp.text())
    assert (await resp.json())["state"] == "callback_done"
    # A late window cannot be forged: the server counts it.
    resp = await post(client, f"/api/v1/tickets/{n}/actions",
                      {"action": "Dispatch", "actor": "d", "unit": "gas",
                       "return_due": "2099-01-01T00:00:00+08:00"}, desk)  # fmt: skip
    assert resp.status == 400 and (await resp.json())["error"].startswith("return_due:")
    other = (await (await post(client, "/api/v1/tickets", DRAFT)).json())["number"]
    lead = (await (await post(client, "/api/v1/tickets", DRAFT)).json())["number"]
    resp = await post(client, f"/api/v1/tickets/{other}/actions",
                      {"action": "MergeInto", "actor": "d", "lead": lead}, desk)  # fmt: skip
    assert resp.status == 200 and (await resp.json())["state"] == "merged"
    merged = await (await client.get(f"/api/v1/tickets/{lead}/merged", headers=desk)).json()
    assert [t["number"] for t in merged["tickets"]] == [other]
    await post(client, f"/api/v1/tickets/{lead}/actions",
               {"action": "Dispatch", "actor": "d", "unit": "roads"}, desk)  # fmt: skip
    q = "from=2026-09-30&to=2026-09-30"
    ranked = await (await client.get(f"/api/v1/reports/units?{q}", headers=desk)).json()
    ranks = [(u["rank"], u["unit"]) for u in ranked["units"]]
    assert ranks == [(1, "gas"), (2, "water"), (3, "roads")]
    # roads was dispatched just now: within its window, counted neither way yet.
    assert (ranked["units"][2]["dispatched"], ranked["units"][2]["response_rate"]) == (0, None)
    water = ranked["units"][1]
    assert (water["resolution_rate"], water["satisfaction_rate"]) == (1.0, 1.0)
    assert (await client.get(f"/api/v1/reports/units?{q}", headers=WATER)).status == 403
    resp = await client.get(f"/api/v1/reports/units?{q}&by=colour", headers=desk)
    assert resp.status == 400 and (await resp.json())["error"].startswith("by:")
    got = await (await client.get("/api/v1/catalogue/suggest?subject_code=02.01&address=x",
                                  headers=desk)).json()  # fmt: skip
    assert got == {"subject_code": "02.01", "area": "", "area_name": "", "suggestion": None}
    resp = await client.get("/api/v1/catalogue/suggest?subject_code=77", headers=desk)
    assert resp.status == 400 and (await resp.json())["error"].startswith("subject_code:")
    assert (await (await client.get("/api/v1/hotspots", headers=desk)).json()) == {"hotspots": []}
