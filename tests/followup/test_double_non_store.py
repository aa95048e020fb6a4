"""A supervisor's 双非 judgement through the real stores (SQLite and PostgreSQL): the handoff
row the report counts and the call's record change together, and the reason is an event on the
ticket that changes no state (the log still rebuilds to the stored snapshot)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hotline.app.migrate import upgrade
from hotline.base.daytypes import CENTRE_TZ
from hotline.calls.records import CallOutcome, CallRecord
from hotline.calls.store import CallRecordStore
from hotline.followup.store import FollowupStore, Handoff
from hotline.tickets.lifecycle import Dispatch, TicketState, rebuild
from hotline.tickets.reports import Period, build_report
from hotline.tickets.service import TicketService, TicketSettings
from hotline.tickets.store import TicketStore
from hotline.tickets.values import AccessDenied, FieldError, TicketDraft, Viewer
from tests.tickets.test_ticket_store import fresh_pg_database

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=CENTRE_TZ)
CALL = "1796600000.42"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        found = f"sqlite:///{tmp_path / 'tickets.db'}"
        upgrade(found)
        yield found
    else:
        with fresh_pg_database() as found:
            upgrade(found)
            yield found


def test_the_flag_moves_on_both_rows_and_the_reason_is_logged(url: str, tmp_path: Path) -> None:
    svc = TicketService(TicketStore(url), TicketSettings())
    follow = FollowupStore(url)
    calls = CallRecordStore(url, tmp_path / "spool")
    try:
        calls.write(CallRecord(
            unique_id=CALL, linked_id=CALL, caller="110", dialled="12345", arrived_at=T0,
            ended_at=T0 + timedelta(minutes=3), outcome=CallOutcome.ANSWERED,
            linkage="from-110", double_non=True,
        ))  # fmt: skip
        follow.add_handoff(Handoff(CALL, "in", "110", "from_110", "", T0, double_non=True))
        draft = TicketDraft(category="help", subject_code="02.01", description="噪音",
                            caller_number="13800000001", calls=(CALL,))  # fmt: skip
        n = svc.create(draft, actor="agent", at=T0).number
        svc.act(n, Dispatch(actor="d", at=T0, unit="water"), Viewer("dispatcher"))
        day = T0.date().isoformat()
        period = Period.parse(day, day)
        counted = build_report(svc.store.engine, period, T0 + timedelta(hours=1))["linkage"]
        assert (counted["in_from_110"], counted["double_non"]) == (1, 1)

        assert follow.from_110([CALL, "other"]) == {CALL: True}
        assert follow.set_double_non(CALL, False)
        assert not follow.set_double_non("no-such-call", False)  # 110 did not transfer it
        rec = svc.log_fact(
            n, Viewer("supervisor"), action="DoubleNonSet", actor="super1",
            note="经核实属于警情", data={"call_id": CALL, "double_non": False},
            at=T0 + timedelta(minutes=10),
        )  # fmt: skip
        assert rec.state is TicketState.DISPATCHED  # a fact, no transition
        assert follow.from_110([CALL]) == {CALL: False}
        stored = calls.get(CALL)
        assert stored is not None and stored.double_non is False
        counted = build_report(svc.store.engine, period, T0 + timedelta(hours=1))["linkage"]
        assert (counted["in_from_110"], counted["double_non"]) == (1, 0)
        last = svc.store.events(n)[-1]
        assert (last.action, last.note, last.actor) == ("DoubleNonSet", "经核实属于警情", "super1")
        assert last.from_state == last.to_state == TicketState.DISPATCHED
        assert rebuild(svc.store.events(n)) == svc.store.get(n).snapshot

        with pytest.raises(AccessDenied):  # a unit does not judge 110's calls
            svc.log_fact(n, Viewer("unit", "water"), action="DoubleNonSet", actor="w",
                         note="不是", data={})  # fmt: skip
        with pytest.raises(FieldError):  # the reason is required
            svc.log_fact(n, Viewer("supervisor"), action="DoubleNonSet", actor="s", note=" ",
                         data={})  # fmt: skip
    finally:
        follow.dispose()
        svc.store.dispose()
