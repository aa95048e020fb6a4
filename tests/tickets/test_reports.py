"""The hotline report against hand-counted fixtures, and the same report on both databases.

Period 2024-10-08 .. 2024-10-09 (Beijing days): [Oct 8 00:00, Oct 10 00:00) +08:00.

Calls (wait = queue entry to answer or hang-up):
    c1  Oct 8 09:00  answered, wait 12 s           c5  Oct 8 10:30  answered, wait 15 s
    c2  Oct 8 09:20  answered, wait 20 s           c7  Oct 9 23:30  answered, wait 5 s
    c3  Oct 8 09:40  abandoned in queue, 30 s      c9  Oct 9 00:10  voicemail after 40 s queued
    c4  Oct 8 10:05  hung up in the IVR            c6  Oct 7 23:59:59, c8 Oct 10 00:00: outside
  inbound 7, answered 4 (c1 c2 c5 c7), answer rate 4/7; offered 6 (not c4); within 15 s:
  c1 c5 c7 = 3, service level 3/6; ASA (12+20+15+5)/4 = 13; abandoned 1; longest wait 40.

Tickets:
    t1  Oct 8, consultation answered directly
    t2  Oct 8, complaint: dispatched, signed, closed Oct 9 (on time), reviewed, satisfied
    t3  Oct 8, help: dispatched, extension asked and granted (3 days)
    t4  Sep 2, consultation dispatched Sep 2 (due Sep 4), still in progress: overdue and open
    t5  Sep 20, consultation dispatched (due Sep 24), closed Oct 8 (late), surveyed Oct 9:
        unreachable, then unsatisfied
    t6  Oct 8, help: dispatched to gas 11:00, gas disputes 11:30 (in its window), re-dispatched
        (改派) to water 12:00 (window to Oct 10 end), water signs Oct 11: late
    t7  Oct 9 23:50 (in), t8 Oct 10 00:05 (out)
    t9  Sep 20, gas: dispatched, signed, closed and reviewed in September; automated survey
        Oct 9: basically satisfied, solved
  Surveys: t2 satisfied and solved, t5 unsatisfied and not solved (both water, by a person).
  accepted 5 (t1 t2 t3 t6 t7); dispatched 3 (t2 t3 t6); closed 3 (t1 direct; t2 t5 by unit),
  on time 1 of 2; extended 1; overdue and open 1 (t4); satisfied 1, basically 1, unsatisfied 1,
  unreachable 1: satisfaction (1 + 1) / 3.

The three rates:
  water: dispatches t2 t3 t6' = 3, answered in time t2 t3 = 2 -> 响应率 2/3; surveys t2 (solved)
         t5 (not) -> 解决率 1/2, 满意率 1/2
  gas:   dispatch t6 = 1, disputed in time -> 1; survey t9 -> 解决率 1, 满意率 1
  all:   3/4, 2/3, 2/3
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.app.cli import main
from hotline.app.migrate import upgrade
from hotline.base.daytypes import CENTRE_TZ
from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.store import CallRecordStore
from hotline.followup.store import FollowupStore, Handoff
from hotline.tickets.lifecycle import (
    AnswerDirectly,
    CloseByUnit,
    Dispatch,
    Dispute,
    GrantExtension,
    RecordSurvey,
    Redispatch,
    RequestExtension,
    Review,
    SignFor,
    StartWork,
)
from hotline.tickets.reports import Period, build_report, ranking
from hotline.tickets.service import UNIT_ACTIONS, TicketService
from hotline.tickets.store import TicketStore
from hotline.tickets.values import TicketDraft, Viewer
from tests.tickets.test_ticket_store import fresh_pg_database

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

PERIOD = Period.parse("2024-10-08", "2024-10-09")
NOW = datetime(2024, 12, 1, 12, 0, tzinfo=CENTRE_TZ)
AGENT = Viewer("agent")


def bj(month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, second, tzinfo=CENTRE_TZ)


def call(uid: str, at: datetime, outcome: str, wait: float | None, talk: bool = True) -> CallRecord:
    queued = None if wait is None else at + timedelta(seconds=20)
    answered = None
    if queued is not None and wait is not None and outcome == "answered":
        answered = queued + timedelta(seconds=wait)
    end = (answered or queued or at) + timedelta(seconds=90 if talk else (wait or 0))
    return CallRecord(
        unique_id=uid, linked_id=uid, caller="13800138000", dialled="12345", arrived_at=at,
        ended_at=end, outcome=CallOutcome(outcome), ivr_exit_at=queued, queued_at=queued,
        answered_at=answered, agent_id="1001" if answered else None, skill="general",
    )  # fmt: skip


CALLS = [
    call("c1", bj(10, 8, 9, 0), "answered", 12),
    call("c2", bj(10, 8, 9, 20), "answered", 20),
    call("c3", bj(10, 8, 9, 40), "abandoned_queue", 30, talk=False),
    call("c4", bj(10, 8, 10, 5), "abandoned_ivr", None),
    call("c5", bj(10, 8, 10, 30), "answered", 15),
    call("c6", bj(10, 7, 23, 59, 59), "answered", 1),
    call("c7", bj(10, 9, 23, 30), "answered", 5),
    call("c8", bj(10, 10, 0, 0), "answered", 1),
    call("c9", bj(10, 9, 0, 10), "voicemail", 40, talk=False),
]
# 一次一评 answers (issue 17): c1 satisfied, c2 unsatisfied, c5 basic, c7 asked but no key.
RATINGS = {"c1": "satisfied", "c2": "unsatisfied", "c5": "basic", "c7": "none"}
CALLS = [replace(c, satisfaction=RATINGS.get(c.unique_id, "")) for c in CALLS]
# 110/119/120/122 linkage: two handoffs out (one answered), one call in from 110 (双非).
HANDOFFS = [
    Handoff("c2", "out", "119", "emergency_transfer", "1001", bj(10, 8, 9, 22), "fire",
            "answered", bj(10, 8, 9, 30)),
    Handoff("c4", "out", "120", "ivr_emergency", "ivr", bj(10, 8, 10, 6), "injury"),
    Handoff("c5", "in", "110", "from_110", "1001", bj(10, 8, 10, 30), "transferred in by 110",
            "answered", bj(10, 8, 10, 40), double_non=True),
    Handoff("c8", "out", "110", "threeway", "1001", bj(10, 10, 0, 1)),  # outside the period
]  # fmt: skip


def load_fixture(url: str, spool: Path) -> None:
    records = CallRecordStore(url, spool)
    for rec in CALLS:
        assert records.write(rec) == "written"
    records.dispose()
    follow = FollowupStore(url)
    for handoff in HANDOFFS:
        follow.add_handoff(handoff)
    follow.dispose()
    store = TicketStore(url)
    svc = TicketService(store)
    unit = Viewer("unit", "water")

    def new(category: str, at: datetime, caller: str) -> str:
        d = TicketDraft(category=category, description="fixture", subject_code="02.01",
                        caller_number=caller, address=f"addr {caller}")  # fmt: skip
        return svc.create(d, actor="agent", at=at).number

    def walk(n: str, *steps: Any) -> None:
        for action in steps:
            svc.act(n, action, unit if isinstance(action, UNIT_ACTIONS) else AGENT)

    t1 = new("consultation", bj(10, 8, 9, 1), "1")
    walk(t1, AnswerDirectly(actor="a", at=bj(10, 8, 9, 5)))
    t2 = new("complaint", bj(10, 8, 9, 21), "2")
    walk(t2, Dispatch(actor="d", at=bj(10, 8, 9, 30), unit="water"),
         SignFor(actor="u", at=bj(10, 8, 10, 0)), StartWork(actor="u", at=bj(10, 8, 10, 0)),
         CloseByUnit(actor="u", at=bj(10, 9, 10, 0), result="ok"),
         Review(actor="s", at=bj(10, 9, 11, 0), approved=True),
         RecordSurvey(actor="c", at=bj(10, 9, 12, 0), outcome="satisfied",
                      solved=True))  # fmt: skip
    t3 = new("help", bj(10, 8, 10, 31), "3")
    walk(t3, Dispatch(actor="d", at=bj(10, 8, 10, 40), unit="water"),
         SignFor(actor="u", at=bj(10, 8, 11, 0)), StartWork(actor="u", at=bj(10, 8, 11, 0)),
         RequestExtension(actor="u", at=bj(10, 8, 12, 0), days=3, reason="parts"),
         GrantExtension(actor="d", at=bj(10, 9, 9, 0), days=3))  # fmt: skip
    t4 = new("consultation", bj(9, 2, 9, 0), "4")
    walk(
        t4,
        Dispatch(actor="d", at=bj(9, 2, 9, 10), unit="water"),
        SignFor(actor="u", at=bj(9, 2, 10, 0)),
        StartWork(actor="u", at=bj(9, 2, 10, 0)),
    )
    t5 = new("consultation", bj(9, 20, 9, 0), "5")
    walk(t5, Dispatch(actor="d", at=bj(9, 20, 9, 10), unit="water"),
         SignFor(actor="u", at=bj(9, 20, 10, 0)), StartWork(actor="u", at=bj(9, 20, 10, 0)),
         CloseByUnit(actor="u", at=bj(10, 8, 15, 0), result="late"),
         Review(actor="s", at=bj(10, 8, 16, 0), approved=True),
         RecordSurvey(actor="c", at=bj(10, 9, 9, 0), outcome="unreachable"),
         RecordSurvey(actor="c", at=bj(10, 9, 10, 0), outcome="unsatisfied",
                      solved=False))  # fmt: skip
    gas, water = Viewer("unit", "gas"), unit
    t6 = new("help", bj(10, 8, 10, 50), "6")
    for action, viewer in [
        (Dispatch(actor="d", at=bj(10, 8, 11, 0), unit="gas"), AGENT),
        (Dispute(actor="g", at=bj(10, 8, 11, 30), reason="water main"), gas),
        (Redispatch(actor="d", at=bj(10, 8, 12, 0), unit="water"), AGENT),
        (SignFor(actor="u", at=bj(10, 11, 9, 0)), water),
    ]:
        svc.act(t6, action, viewer)
    t9 = new("help", bj(9, 20, 11, 0), "9")
    for action, viewer in [
        (Dispatch(actor="d", at=bj(9, 20, 11, 10), unit="gas"), AGENT),
        (SignFor(actor="g", at=bj(9, 20, 12, 0)), gas),
        (StartWork(actor="g", at=bj(9, 20, 12, 0)), gas),
        (CloseByUnit(actor="g", at=bj(9, 25, 12, 0), result="valve"), gas),
        (Review(actor="s", at=bj(9, 26, 9, 0), approved=True), AGENT),
    ]:
        svc.act(t9, action, viewer)
    svc.record_survey(t9, outcome="basically_satisfied", solved=True, at=bj(10, 9, 15, 0))
    new("help", bj(10, 9, 23, 50), "7")
    new("help", bj(10, 10, 0, 5), "8")
    store.dispose()


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{base / 'hotline.db'}"
    upgrade(url)
    load_fixture(url, base / "spool")
    return url


@pytest.fixture(scope="module")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_pg_database() as url:
        upgrade(url)
        load_fixture(url, tmp_path_factory.mktemp("report-pg") / "spool")
        yield url


def report(url: str) -> dict[str, Any]:
    store = TicketStore(url)
    try:
        return build_report(store.engine, PERIOD, NOW)
    finally:
        store.dispose()


def test_figures_match_the_hand_count(sqlite_url: str) -> None:
    r = report(sqlite_url)
    assert r["period"] == {
        "from": "2024-10-08",
        "to": "2024-10-09",
        "time_zone": "Asia/Shanghai",
        "as_of": "2024-10-10T00:00:00+08:00",
    }
    assert r["calls"] == {
        "inbound": 7,
        "answered": 4,
        "answer_rate": 0.5714,
        "offered": 6,
        "answered_within_15s": 3,
        "service_level_15s": 0.5,
        "asa_s": 13.0,
        "abandoned": 1,
        "longest_wait_s": 40.0,
    }
    assert r["tickets"] == {
        "accepted": 5, "dispatched": 3, "closed": 3, "closed_direct": 1, "closed_by_unit": 2,
        "closed_on_time": 1, "closed_on_time_rate": 0.5, "extended": 1, "overdue_open": 1,
        "satisfied": 1, "basically_satisfied": 1, "unsatisfied": 1, "unreachable": 1,
        "satisfaction_rate": 0.6667,
    }  # fmt: skip
    rates = r["three_rates"]
    assert rates["overall"] == {
        "dispatched": 4, "responded_in_time": 3, "response_rate": 0.75, "surveyed": 3,
        "asked_solved": 3, "solved": 2, "resolution_rate": 0.6667, "satisfied": 2,
        "satisfaction_rate": 0.6667, "score": 0.6945,
    }  # fmt: skip
    by_unit = {u["unit"]: u for u in rates["units"]}
    assert sorted(by_unit) == ["gas", "water"]
    water, gas = by_unit["water"], by_unit["gas"]
    assert (water["dispatched"], water["responded_in_time"], water["response_rate"]) == (
        3,
        2,
        0.6667,
    )
    assert (water["resolution_rate"], water["satisfaction_rate"]) == (0.5, 0.5)
    assert (gas["response_rate"], gas["resolution_rate"], gas["satisfaction_rate"]) == (
        1.0,
        1.0,
        1.0,
    )
    assert [u["unit"] for u in ranking(rates["units"])] == ["gas", "water"]
    hours = {h["hour"]: h for h in r["hours"] if h["inbound"]}
    assert sorted(hours) == [0, 9, 10, 23]  # Beijing hours, though stored in UTC
    assert hours[9] == {
        "hour": 9,
        "inbound": 3,
        "answered": 2,
        "answer_rate": 0.6667,
        "offered": 3,
        "answered_within_15s": 1,
        "service_level_15s": 0.3333,
        "asa_s": 16.0,
        "abandoned": 1,
        "longest_wait_s": 30.0,
    }
    assert hours[10]["offered"] == 1 and hours[10]["service_level_15s"] == 1.0
    assert hours[0]["answered"] == 0 and hours[0]["asa_s"] is None
    assert hours[0]["service_level_15s"] == 0.0
    assert r["hours"][5] == {"hour": 5, "inbound": 0, "answered": 0, "answer_rate": None,
                             "offered": 0, "answered_within_15s": 0, "service_level_15s": None,
                             "asa_s": None, "abandoned": 0, "longest_wait_s": None}  # fmt: skip


def test_after_call_satisfaction_and_linkage_match_the_hand_count(sqlite_url: str) -> None:
    r = report(sqlite_url)
    rated = r["after_call_satisfaction"]
    assert {k: rated[k] for k in ("satisfied", "basic", "unsatisfied", "no_answer", "rate")} == {
        "satisfied": 1, "basic": 1, "unsatisfied": 1, "no_answer": 1, "rate": 0.6667,
    }  # fmt: skip
    assert rated["agents"]["1001"]["rate"] == 0.6667
    assert rated["skills"]["general"]["unsatisfied"] == 1
    assert r["linkage"] == {
        "out": 2,
        "out_by_service": {"119": {"total": 1, "answered": 1}, "120": {"total": 1, "pending": 1}},
        "in_from_110": 1,
        "double_non": 1,
    }


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_report(sqlite_url: str, pg_url: str) -> None:
    assert report(pg_url) == report(sqlite_url)
    # The three rates (三率) in particular: the same on both, and not empty.
    lite = report(sqlite_url)["three_rates"]
    assert lite == report(pg_url)["three_rates"] and len(lite["units"]) == 2
    # ... for other periods and instants too, including an empty one.
    for first, last, now in [("2024-09-01", "2024-10-31", NOW),
                             ("2024-10-09", "2024-10-09", bj(10, 9, 12, 0)),
                             ("2025-01-01", "2025-01-02", NOW)]:  # fmt: skip
        period = Period.parse(first, last)
        stores = [TicketStore(u) for u in (sqlite_url, pg_url)]
        try:
            lite, pg = (build_report(s.engine, period, now) for s in stores)
        finally:
            for s in stores:
                s.dispose()
        assert lite == pg


def test_cli_report(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "h.toml"
    cfg.write_text(f'[database]\nurl = "{sqlite_url}"\n', encoding="utf-8")
    assert main(["-c", str(cfg), "report", "--from", "2024-10-08", "--to", "2024-10-09",
                 "--json"]) == 0  # fmt: skip
    # The period lies in the past, so "now" does not matter: the same as the library call.
    assert json.loads(capsys.readouterr().out) == report(sqlite_url)
    assert main(["-c", str(cfg), "report", "--from", "2024-10-08", "--to", "2024-10-09"]) == 0
    text = capsys.readouterr().out
    assert "inbound calls" in text and "57.1 %" in text and "overdue and open 1" in text
    # The three rates beside the answer rate and the service level, overall and per unit.
    assert "三率" in text and "接通率 57.1 %" in text and "service level 15 s 50.0 %" in text
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert lines["(all"][1:7] == ["75.0", "%", "66.7", "%", "66.7", "%"]
    assert lines["water"][:6] == ["66.7", "%", "50.0", "%", "50.0", "%"]
    assert lines["gas"][:6] == ["100.0", "%", "100.0", "%", "100.0", "%"]
    assert main(["-c", str(cfg), "report", "--from", "2024-10-09", "--to", "2024-10-08"]) == 2
    assert "to: 2024-10-08 is before from" in capsys.readouterr().err
