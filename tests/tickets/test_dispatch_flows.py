"""Disputes, merging, surveys, the catalogue and hot spots through the real ticket store
(SQLite and PostgreSQL), and the ``hotline catalogue`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.app.migrate import upgrade
from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.catalogue import CatalogueError
from hotline.tickets.hotspots import Hotspot, HotspotRule
from hotline.tickets.lifecycle import (
    CloseByUnit,
    ConfirmDispatch,
    Dispatch,
    Dispute,
    IllegalTransition,
    MergeInto,
    Redispatch,
    Return,
    Review,
    SignFor,
    StartWork,
    TicketState,
    rebuild,
)
from hotline.tickets.service import TicketService, TicketSettings
from hotline.tickets.store import TicketStore
from hotline.tickets.values import FieldError, TicketDraft, Viewer
from tests.tickets.test_ticket_store import fresh_pg_database

pytestmark = pytest.mark.calendar  # deadlines from given dates: issue 12, also run in 2027, 2028

S = TicketState
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "dispatch-catalogue.json"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=CENTRE_TZ)  # a Monday
DESK = Viewer("dispatcher")


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TicketService]:
    settings = TicketSettings(hotspots=HotspotRule(window_minutes=60, threshold=3))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tickets.db'}"
        upgrade(url)
        svc = TicketService(TicketStore(url), settings)
        yield svc
        svc.store.dispose()
    else:
        with fresh_pg_database() as url:
            upgrade(url)
            svc = TicketService(TicketStore(url), settings)
            yield svc
            svc.store.dispose()


def new(
    svc: TicketService, caller: str, at: datetime = T0, address: str = "西岗区人民路5号"
) -> str:
    draft = TicketDraft(category="help", subject_code="02.01", description="停水",
                        caller_number=caller, address=address)  # fmt: skip
    return svc.create(draft, actor="agent", at=at).number


def test_dispute_then_redispatch_or_confirm(service: TicketService) -> None:
    gas, water = Viewer("unit", "gas"), Viewer("unit", "water")
    n = new(service, "13800000001")
    rec = service.act(n, Dispatch(actor="d", at=T0, unit="gas"), DESK)
    assert rec.dispute_until == rec.return_due_at  # the window the dispatch gave
    assert rec.return_due_at is not None
    late = Dispute(actor="g", at=rec.return_due_at + timedelta(minutes=1), reason="not gas")
    with pytest.raises(IllegalTransition, match="return window ended"):
        service.act(n, late, gas)
    service.act(n, Dispute(actor="g", at=T0 + timedelta(hours=1), reason="water main"), gas)
    assert service.get(n, DESK).state is S.DISPUTED
    rec = service.act(n, Redispatch(actor="d", at=T0 + timedelta(hours=2), unit="water"), DESK)
    assert (rec.state, rec.unit, rec.disputed) == (S.DISPATCHED, "water", False)
    assert rec.dispatched_at == T0 + timedelta(hours=2)  # the clock restarts for the new unit
    service.act(n, Dispute(actor="w", at=T0 + timedelta(hours=3), reason="gas leak"), water)
    service.act(
        n, ConfirmDispatch(actor="d", at=T0 + timedelta(hours=4), reason="it is water"), DESK
    )
    with pytest.raises(IllegalTransition, match="confirmed this dispatch"):
        service.act(n, Return(actor="w", at=T0 + timedelta(hours=5), reason="no"), water)
    assert rebuild(service.store.events(n)) == service.store.get(n).snapshot
    units = [(e.action, e.unit) for e in _rows(service, n)]
    assert units == [("Dispatch", "gas"), ("Dispute", "gas"), ("Redispatch", "water"),
                     ("Dispute", "water"), ("ConfirmDispatch", "water")]  # fmt: skip


def _rows(service: TicketService, number: str) -> list[Any]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from hotline.tickets.models import TicketEventRow, TicketRow

    with Session(service.store.engine) as session:
        stmt = (select(TicketEventRow).join(TicketRow, TicketRow.id == TicketEventRow.ticket_id)
                .where(TicketRow.number == number).order_by(TicketEventRow.seq))  # fmt: skip
        return list(session.scalars(stmt))


def test_merged_callers_are_informed_when_the_lead_closes(service: TicketService) -> None:
    lead = new(service, "13800000001")
    others = [new(service, f"1380000000{i}", T0 + timedelta(minutes=i)) for i in (2, 3)]
    at = T0 + timedelta(minutes=10)
    for n in others:
        service.act(n, MergeInto(actor="d", at=at, lead=lead), DESK)
    with pytest.raises(FieldError, match="cannot be merged into itself"):
        service.act(lead, MergeInto(actor="d", at=at, lead=lead), DESK)
    third = new(service, "13800000009", at)
    with pytest.raises(FieldError, match="is merged: merge into an open one"):
        service.act(third, MergeInto(actor="d", at=at, lead=others[0]), DESK)
    with pytest.raises(FieldError, match="itself a lead"):
        service.act(lead, MergeInto(actor="d", at=at, lead=third), DESK)
    kept = service.merged_callers(lead, DESK)
    assert sorted(r.caller_number for r in kept) == ["13800000002", "13800000003"]
    unit = Viewer("unit", "water")
    steps = [(Dispatch(actor="d", at=at, unit="water"), DESK), (SignFor(actor="u", at=at), unit),
             (StartWork(actor="u", at=at), unit),
             (CloseByUnit(actor="u", at=at, result="管道已修复"), unit)]  # fmt: skip
    for action, viewer in steps:
        service.act(lead, action, viewer)
    assert {service.store.get(n).state for n in others} == {S.MERGED}  # not yet reviewed
    service.act(lead, Review(actor="s", at=at + timedelta(hours=1), approved=True), DESK)
    for n in others:
        rec = service.store.get(n)
        assert rec.state is S.INFORM_PENDING
        last = service.store.events(n)[-1]
        assert (last.action, last.data["result"], last.data["lead"]) == (
            "LeadClosed",
            "管道已修复",
            lead,
        )
    due = service.surveys_due(
        spacing=timedelta(hours=2), max_attempts=3, now=at + timedelta(hours=2)
    )
    assert {r.number for r in due} == {lead, *others}  # the lead's survey, the callers' news
    service.inform_caller(
        others[0], reached=False, call_id="1765000000.7", at=at + timedelta(hours=2)
    )
    service.inform_caller(others[1], reached=True, at=at + timedelta(hours=2))
    assert [service.store.get(n).state for n in others] == [S.INFORM_PENDING, S.ARCHIVED]
    later = service.surveys_due(
        spacing=timedelta(hours=2), max_attempts=3, now=at + timedelta(hours=3)
    )
    assert others[0] not in {r.number for r in later}  # spacing between attempts


def test_an_automated_survey_sends_an_unsolved_matter_back(service: TicketService) -> None:
    n = new(service, "13800000001")
    unit = Viewer("unit", "water")
    for action, viewer in [(Dispatch(actor="d", at=T0, unit="water"), DESK),
                           (SignFor(actor="u", at=T0), unit), (StartWork(actor="u", at=T0), unit),
                           (CloseByUnit(actor="u", at=T0, result="ok"), unit),
                           (Review(actor="s", at=T0, approved=True), DESK)]:  # fmt: skip
        service.act(n, action, viewer)
    with pytest.raises(ValueError, match="asks whether the matter was solved"):
        service.record_survey(n, outcome="satisfied", solved=None, at=T0 + timedelta(hours=1))
    rec = service.record_survey(n, outcome="unreachable", solved=None, at=T0 + timedelta(hours=1))
    assert (rec.state, rec.survey_attempts) == (S.CALLBACK_DONE, 1)
    rec = service.record_survey(n, outcome="satisfied", solved=False, call_id="1765.2",
                                at=T0 + timedelta(hours=3))  # fmt: skip
    assert (rec.state, rec.unit, rec.reopen_count) == (S.REOPENED, "water", 1)
    assert rec.reply_due_at is not None and rec.closed_at is None
    notices = service.notices(DESK)
    assert [(x.reason, x.unit, x.ticket_number) for x in notices] == [("reopened", "water", n)]
    last = service.store.events(n)[-1]
    assert last.data == {"outcome": "satisfied", "solved": False, "method": "automated",
                         "call_id": "1765.2"}  # fmt: skip
    with pytest.raises(IllegalTransition, match="RecordSurvey is not allowed in state reopened"):
        service.record_survey(n, outcome="satisfied", solved=True, at=T0 + timedelta(hours=4))


def test_catalogue_import_area_suggestion_and_hot_spots(service: TicketService) -> None:
    with pytest.raises(CatalogueError, match=r"entries\[0\]\.subject"):
        entry = {"subject": "88", "area": "*", "lead_unit": "x", "valid_from": "2026-01-01"}
        bad = json.dumps({"entries": [entry]})
        service.import_catalogue(bad, "bad.json", actor="ops")
    assert service.store.catalogue_text() is None  # nothing stored
    service.import_catalogue(EXAMPLE.read_text(encoding="utf-8"), "c.json", actor="ops", at=T0)
    fresh = TicketService(service.store, service.settings)
    fresh.load_catalogue()  # another process reads what was imported
    got = fresh.suggest_units(DESK, subject_code="02.01", address="甘井子区红旗西路", at=T0)
    assert got["area"] == "ganjingzi" and got["suggestion"]["lead_unit"] == "water-company-north"
    seen: list[Hotspot] = []
    service.on_hotspot.append(seen.append)
    numbers = [new(service, f"1390000000{i}", T0 + timedelta(minutes=10 * i)) for i in range(4)]
    assert service.store.get(numbers[0]).area == "xigang"
    assert [s.count for s in seen] == [3, 4]  # from the third ticket on, each raises it again
    event = seen[-1].to_event()
    assert (event["subject"], event["area"], event["area_name"]) == ("02.01", "xigang", "西岗区")
    text = json.dumps(event, ensure_ascii=False)
    assert "1390000000" not in text and "人民路" not in text and "停水" not in text
    assert service.current_hotspots(T0 + timedelta(minutes=31)) == [seen[-1]]
    assert service.current_hotspots(T0 + timedelta(minutes=91)) == []


def hotline(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUTF8": "1"},
    )  # fmt: skip


def test_the_catalogue_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    upgrade(url)
    config = tmp_path / "hotline.toml"
    config.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n\n[database]\nurl = "{url}"\n')
    bad = tmp_path / "bad.json"
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["entries"][1]["area"] = "lvshun"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    refused = hotline(config, "catalogue", "import", str(bad))
    assert refused.returncode == 2
    assert "entries[1].area: 'lvshun' is not one of the file's areas" in refused.stderr
    assert "nothing imported" in refused.stderr
    done = hotline(config, "catalogue", "import", str(EXAMPLE), "--by", "ops")
    assert done.returncode == 0, done.stderr
    assert "imported 10 catalogue entries in 4 areas" in done.stdout
    shown = hotline(config, "catalogue", "show", "--json")
    assert shown.returncode == 0 and len(json.loads(shown.stdout)["entries"]) == 10


def test_a_merge_racing_the_lead_closing_never_strands_a_caller(service: TicketService) -> None:
    """Merge and the lead's approval at once, many times: the merged ticket either saw the lead
    open (and was informed when it closed) or was refused; never merged into a closed lead."""
    import threading

    unit = Viewer("unit", "water")
    at = T0 + timedelta(minutes=1)
    outcomes = set()
    for i in range(12):
        lead = new(service, f"1370000{i:04d}")
        for action, viewer in [(Dispatch(actor="d", at=at, unit="water"), DESK),
                               (SignFor(actor="u", at=at), unit),
                               (StartWork(actor="u", at=at), unit),
                               (CloseByUnit(actor="u", at=at, result="ok"), unit)]:  # fmt: skip
            service.act(lead, action, viewer)
        other = new(service, f"1360000{i:04d}")
        errors: list[Exception] = []

        def merge(lead: str = lead, other: str = other, errors: list[Exception] = errors) -> None:
            try:
                service.act(other, MergeInto(actor="d", at=at, lead=lead), DESK)
            except FieldError as exc:
                errors.append(exc)

        def approve(lead: str = lead) -> None:
            service.act(lead, Review(actor="s", at=at, approved=True), DESK)

        threads = [threading.Thread(target=merge), threading.Thread(target=approve)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        state = service.store.get(other).state
        assert service.store.get(lead).state is S.REVIEWED
        assert state in (S.INFORM_PENDING, S.CREATED), state  # informed, or refused
        assert (state is S.CREATED) == bool(errors)
        outcomes.add(state)
    assert outcomes  # at least one of the two orders happened
