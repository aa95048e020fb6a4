"""The ticket store on SQLite AND PostgreSQL: every test here runs on both.

PostgreSQL comes from HOTLINE_TEST_PG_URL (a role allowed to CREATE DATABASE); a fresh database
is created for the session and dropped at the end. If it cannot be reached the tests FAIL.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hotline.app.migrate import alembic_config, current, head, upgrade
from hotline.app.registry import METADATA
from hotline.base.daytypes import CENTRE_TZ
from hotline.base.db import make_engine
from hotline.tickets.lifecycle import (
    ACTION_TYPES,
    AcceptVoicemail,
    AnswerDirectly,
    Archive,
    CloseByUnit,
    ConfirmDispatch,
    DismissVoicemail,
    Dispatch,
    Dispute,
    GrantExtension,
    IllegalTransition,
    InformCaller,
    LeadClosed,
    MergeInto,
    RecordSurvey,
    Redispatch,
    RefuseExtension,
    RequestExtension,
    Return,
    Review,
    SignFor,
    StartWork,
    TicketState,
    next_actions,
    rebuild,
)
from hotline.tickets.models import TicketEventRow
from hotline.tickets.numbers import parse_ticket_number
from hotline.tickets.service import TicketService, TicketSettings
from hotline.tickets.store import TicketStore
from hotline.tickets.values import AccessDenied, FieldError, TicketDraft, TicketNotFound, Viewer
from hotline.tickets.workdays import Category
from tests.support.pg_url import shared_pg_url

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

PG_URL = shared_pg_url()  # HOTLINE_TEST_PG_URL, else the role setup made
TABLES = (
    "supervision_notices", "ticket_events", "ticket_units", "ticket_calls", "ticket_recordings",
    "tickets", "ticket_day_counters", "call_records",
)  # fmt: skip
S = TicketState
AGENT, SUPERVISOR = Viewer("agent"), Viewer("supervisor")
T0 = datetime(2026, 9, 30, 10, 0, tzinfo=CENTRE_TZ)  # last working day before National Day


def eod(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=CENTRE_TZ)


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards. FAILS the test if unreachable."""
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    problem = ""
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # Test data need not survive a server crash: commits without waiting for fsync.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except SQLAlchemyError as exc:
        problem = str(exc)
    if problem:
        admin.dispose()
        shown = make_url(PG_URL).render_as_string(hide_password=True)
        pytest.fail(f"PostgreSQL at {shown} (HOTLINE_TEST_PG_URL) is not usable: {problem}",
                    pytrace=False)  # fmt: skip
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def ticket_pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def ticket_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('tickets') / 'hotline.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "ticket_sqlite_url" if request.param == "sqlite" else "ticket_pg_url"
    url: str = request.getfixturevalue(name)
    return url


def wipe(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture
def service(db_url: str) -> Iterator[TicketService]:
    wipe(db_url)
    store = TicketStore(db_url)
    yield TicketService(store, TicketSettings(), clock=lambda: T0)
    store.dispose()


def draft(**kw: Any) -> TicketDraft:
    fields: dict[str, Any] = {
        "category": "help",
        "description": "小区停水两天",
        "subject_code": "02.01",
        "caller_number": "13800138000",
        "caller_name": "张三",
        "address": "人民路5号",
    }
    fields.update(kw)
    return TicketDraft(**fields)


def event_count(service: TicketService) -> int:
    with service.store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(TicketEventRow)) or 0)


def assert_rebuilds(service: TicketService, number: str) -> None:
    stored = service.store.get(number)
    assert rebuild(service.store.events(number)) == stored.snapshot


# --- schema -----------------------------------------------------------------------------------


def test_migrated_schema_matches_models(db_url: str) -> None:
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert list(compare_metadata(ctx, METADATA)) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_up_down_up(backend: str, tmp_path: Path) -> None:
    @contextmanager
    def database() -> Iterator[str]:
        if backend == "sqlite":
            yield f"sqlite:///{tmp_path / 'updown.db'}"
        else:
            with fresh_pg_database() as url:
                yield url

    with database() as url:
        upgrade(url)
        assert current(url) == head()
        cfg = alembic_config(url)
        command.downgrade(cfg, "0001")
        engine = create_engine(url, poolclass=NullPool)
        assert current(url) == "0001"
        assert set(inspect(engine).get_table_names()) >= {"call_records"}
        assert "tickets" not in inspect(engine).get_table_names()
        command.downgrade(cfg, "base")
        assert current(url) is None
        upgrade(url)
        assert current(url) == head()
        assert {"tickets", "ticket_events", "supervision_notices", "callback_attempts"} <= set(
            inspect(engine).get_table_names()
        )
        engine.dispose()


# --- numbers ----------------------------------------------------------------------------------


def test_numbers_are_daily_sequences_in_beijing_days(service: TicketService) -> None:
    late = datetime(2026, 10, 8, 23, 59, tzinfo=CENTRE_TZ)  # 15:59 UTC, still Oct 8 in Beijing
    made = [service.create(draft(), actor="agent-7", at=late) for _ in range(3)]
    made += [service.create(draft(), actor="agent-7", at=late + timedelta(minutes=2))]
    parsed = [parse_ticket_number(t.number) for t in made]
    assert [(d.isoformat(), seq) for d, seq in parsed] == [
        ("2026-10-08", 1), ("2026-10-08", 2), ("2026-10-08", 3), ("2026-10-09", 1),
    ]  # fmt: skip
    assert made[0].state is S.CREATED and made[0].created_by == "agent-7"
    assert service.get(made[0].number, AGENT) == made[0]
    # A typed number is read like a citizen reads it; a wrong digit is caught.
    assert service.get(" 20261008-000001-" + made[0].number[-1], AGENT).number == made[0].number
    wrong = made[0].number[:-1] + str((int(made[0].number[-1]) + 1) % 10)
    with pytest.raises(ValueError, match="check digit"):
        service.get(wrong, AGENT)


def test_concurrent_creation_gives_distinct_contiguous_numbers(service: TicketService) -> None:
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(6):
                rec = service.create(draft(), actor="agent", at=T0)
                with lock:
                    numbers.append(rec.number)
        except BaseException as exc:  # report it in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(parse_ticket_number(n)[1] for n in numbers) == list(range(1, 49))


# --- lifecycle --------------------------------------------------------------------------------


def test_full_lifecycle_is_stored_and_rebuilds(service: TicketService) -> None:
    t = service.create(draft(category="complaint", about_unit="water"), actor="agent-7")
    n = t.number
    unit = Viewer("unit", "water")
    at = iter(T0 + timedelta(minutes=10 * i) for i in range(1, 100))
    steps: list[tuple[Any, Viewer]] = [
        (Dispatch(actor="d-1", at=next(at), unit="water", co_units=("district-a",)), AGENT),
        (Return(actor="clerk", at=next(at), reason="not our pipe"), unit),
        (Dispatch(actor="d-1", at=next(at), unit="water", note="it is"), AGENT),
        (SignFor(actor="clerk", at=next(at)), unit),
        (StartWork(actor="clerk", at=next(at)), unit),
        (RequestExtension(actor="clerk", at=next(at), days=3, reason="parts"), unit),
        (GrantExtension(actor="d-1", at=next(at), days=3), AGENT),
        (CloseByUnit(actor="clerk", at=next(at), result="pipe replaced"), unit),
        (Review(actor="s", at=next(at), approved=True), SUPERVISOR),
        # Unsatisfied: back to the unit under supervision at once (复办/督办).
        (RecordSurvey(actor="cb", at=next(at), outcome="unsatisfied", note="no water"), AGENT),
        (StartWork(actor="clerk", at=next(at)), unit),
        (CloseByUnit(actor="clerk", at=next(at), result="valve fixed"), unit),
        (Review(actor="s", at=next(at), approved=True), SUPERVISOR),
        (RecordSurvey(actor="cb", at=next(at), outcome="satisfied"), AGENT),
        (Archive(actor="s", at=next(at)), SUPERVISOR),
    ]
    for i, (action, viewer) in enumerate(steps, start=1):
        rec = service.act(n, action, viewer)
        assert rec.last_event_seq == i
        assert_rebuilds(service, n)
    final = service.store.get(n)
    assert final.state is S.ARCHIVED and final.reopen_count == 1 and final.extension_days == 3
    events = service.events(n, AGENT)
    assert [e.action for e in events] == [type(a).__name__ for a, _ in steps]
    assert events[1].note == "" and events[1].data == {"reason": "not our pipe"}
    return_due = service.settings.policy.return_deadline(steps[0][0].at).isoformat()
    assert events[0].data == {"unit": "water", "co_units": ["district-a"], "return_due": return_due}
    assert events[9].to_state is S.REOPENED
    assert events[0].at == steps[0][0].at and events[0].at.tzinfo is UTC
    assert events[6].from_state is S.EXTENSION_REQUESTED
    # The reopening (复办) put the unit under supervision with a fresh 20-working-day period.
    notices = service.notices(SUPERVISOR)
    assert [(x.reason, x.unit) for x in notices] == [("reopened", "water")]
    policy = service.settings.policy
    assert notices[0].due_at == policy.reply_deadline(Category.COMPLAINT, steps[9][0].at)


def test_an_illegal_transition_changes_nothing(service: TicketService) -> None:
    t = service.create(draft(), actor="agent-7")
    service.act(t.number, Dispatch(actor="d", at=T0, unit="water"), AGENT)
    before, count = service.store.get(t.number), event_count(service)
    with pytest.raises(IllegalTransition, match="CloseByUnit is not allowed in state dispatched"):
        service.act(t.number, CloseByUnit(actor="d", at=T0, result="x"), AGENT)
    with pytest.raises(IllegalTransition, match="AnswerDirectly"):
        service.act(t.number, AnswerDirectly(actor="d", at=T0), AGENT)
    with pytest.raises(AccessDenied):  # a co-unit... here: a unit trying a platform action
        service.act(t.number, Archive(actor="u", at=T0), Viewer("unit", "water"))
    with pytest.raises(FieldError, match=r"^note:"):
        service.act(t.number, SignFor(actor="u", at=T0, note="n" * 5000), AGENT)
    assert service.store.get(t.number) == before and event_count(service) == count
    assert_rebuilds(service, t.number)


def _random_action(rng: random.Random, state: TicketState, at: datetime, lead: str) -> Any:
    # Mostly actions the table lists for the state (guards may still refuse them), so walks
    # get deep; sometimes any action at all, which must be refused cleanly.
    # A direct answer ends a walk at once: leave it to the "any action" branch.
    listed = sorted(next_actions(state) - {AnswerDirectly}, key=lambda a: a.__name__)
    kind = rng.choice(listed) if listed and rng.random() < 0.75 else rng.choice(ACTION_TYPES)
    extras: dict[type[Any], dict[str, Any]] = {
        Dispatch: {"unit": rng.choice(["water", "gas"]), "co_units": ()},
        Return: {"reason": "not ours"},
        RequestExtension: {"days": rng.randint(1, 3), "reason": "parts"},
        GrantExtension: {"days": rng.randint(1, 3)},
        RefuseExtension: {"reason": "no"},
        CloseByUnit: {"result": "done"},
        Review: {"approved": rng.random() < 0.7},
        RecordSurvey: rng.choice(
            [{"outcome": "satisfied", "solved": True}, {"outcome": "basically_satisfied"},
             {"outcome": "unsatisfied", "solved": False}, {"outcome": "unreachable"}]
        ),
        DismissVoicemail: {"reason": "silence"},
        Dispute: {"reason": "not ours"},
        Redispatch: {"unit": rng.choice(["water", "gas"]), "co_units": ()},
        ConfirmDispatch: {"reason": "it is yours"},
        MergeInto: {"lead": lead},
        LeadClosed: {"lead": lead, "result": "done"},
        InformCaller: {"reached": rng.random() < 0.5},
    }  # fmt: skip
    extra = extras.get(kind, {})
    return kind(actor="walker", at=at, **extra)


def test_random_walks_never_corrupt_the_log(service: TicketService) -> None:
    rng = random.Random(20261008)
    seen: set[TicketState] = set()
    lead = service.create(draft(), actor="agent").number  # what merged walks merge into
    for _ in range(4):
        n = service.create(draft(), actor="agent").number
        at, before = T0, service.store.get(n)
        for _ in range(25):
            at += timedelta(minutes=rng.randint(0, 600))
            try:
                service.act(n, _random_action(rng, before.state, at, lead), AGENT)
            except IllegalTransition:
                assert service.store.get(n) == before  # not even updated_at moved
            after = service.store.get(n)
            assert len(service.store.events(n)) == after.last_event_seq
            assert rebuild(service.store.events(n)) == after.snapshot
            before = after
            seen.add(after.state)
    assert len(seen) >= 8, seen  # the walks went deep, not only refusals at "created"


# --- deadlines, lists, notices ----------------------------------------------------------------


def test_deadlines_are_stored_on_dispatch_and_moved_by_extensions(service: TicketService) -> None:
    t = service.create(draft(category="consultation"), actor="agent")
    rec = service.act(t.number, Dispatch(actor="d", at=T0, unit="water"), AGENT)
    assert rec.reply_due_at == eod(2026, 10, 9) and rec.return_due_at == eod(2026, 10, 9)
    unit = Viewer("unit", "water")
    service.act(t.number, SignFor(actor="u", at=T0), unit)
    service.act(t.number, StartWork(actor="u", at=T0), unit)
    late = datetime(2026, 10, 8, 9, tzinfo=CENTRE_TZ)
    with pytest.raises(IllegalTransition, match="working days before the deadline"):
        service.act(t.number, RequestExtension(actor="u", at=late, days=3, reason="r"), unit)
    service.act(t.number, RequestExtension(actor="u", at=T0, days=3, reason="parts"), unit)
    rec = service.act(t.number, GrantExtension(actor="d", at=T0, days=3), AGENT)
    # Oct 9 + 3 working days: Oct 10 (make-up Saturday), Oct 12, Oct 13.
    assert service.store.get(t.number).reply_due_at == eod(2026, 10, 13) == rec.reply_due_at


def test_due_soon_overdue_and_supervision_notices(service: TicketService) -> None:
    def dispatched(unit: str, category: str) -> str:
        n = service.create(draft(category=category), actor="agent").number
        service.act(n, Dispatch(actor="d", at=T0, unit=unit), AGENT)
        return n

    consult = dispatched("water", "consultation")  # due Oct 9
    request = dispatched("gas", "help")  # due 20 working days later
    closed = dispatched("water", "consultation")
    service.act(closed, Return(actor="u", at=T0, reason="no"), Viewer("unit", "water"))

    on_oct8 = datetime(2026, 10, 8, 9, tzinfo=CENTRE_TZ)
    assert [r.number for r in service.due_soon(AGENT, on_oct8)] == [consult]
    assert service.overdue(AGENT, on_oct8) == []
    on_oct10 = datetime(2026, 10, 10, 9, tzinfo=CENTRE_TZ)
    assert [r.number for r in service.overdue(AGENT, on_oct10)] == [consult]
    assert service.overdue(Viewer("unit", "gas"), on_oct10) == []
    assert request not in [r.number for r in service.due_soon(AGENT, on_oct10)]

    with pytest.raises(AccessDenied):
        service.issue_supervision_notices(Viewer("unit", "water"), "u", now=on_oct10)
    issued = service.issue_supervision_notices(SUPERVISOR, "sup-1", "please reply", on_oct10)
    assert [(x.ticket_number, x.unit, x.reason, x.due_at) for x in issued] == [
        (consult, "water", "overdue", eod(2026, 10, 9))
    ]
    assert service.issue_supervision_notices(SUPERVISOR, "sup-1", now=on_oct10) == []  # once
    assert [x.ticket_number for x in service.notices(Viewer("unit", "water"))] == [consult]
    assert service.notices(Viewer("unit", "gas")) == []


# --- confidentiality --------------------------------------------------------------------------


def test_units_see_only_their_tickets_and_never_their_complainant(service: TicketService) -> None:
    complaint = service.create(
        draft(category="complaint", about_unit="water", calls=("1790000000.1",)), actor="agent"
    ).number
    service.act(complaint, Dispatch(actor="d", at=T0, unit="water", co_units=("district-a",)),
                AGENT)  # fmt: skip
    other = service.create(draft(), actor="agent").number
    service.act(other, Dispatch(actor="d", at=T0, unit="gas"), AGENT)

    water, district, gas = (Viewer("unit", u) for u in ("water", "district-a", "gas"))
    seen = service.get(complaint, water)
    assert seen.redacted and seen.caller_name == "" and seen.caller_number == ""
    assert seen.contact == "" and seen.calls == ()
    assert [t.number for t in service.tickets(water)] == [complaint]
    assert all(t.caller_number == "" for t in service.tickets(water))
    assert service.get(complaint, district).caller_name == "张三"  # not about district-a
    assert service.get(complaint, AGENT).caller_name == "张三"
    for action in (lambda: service.get(complaint, gas), lambda: service.events(complaint, gas)):
        with pytest.raises(TicketNotFound):
            action()
    assert [t.number for t in service.tickets(gas)] == [other]
    with pytest.raises(TicketNotFound):
        service.act(complaint, SignFor(actor="g", at=T0), gas)
    with pytest.raises(AccessDenied):
        service.repeat_check("13800138000", water)
    with pytest.raises(AccessDenied):
        service.link(complaint, water, calls=("1.2",))


def test_a_unit_reads_a_complaint_about_it_without_notes_or_other_units(
    service: TicketService,
) -> None:
    """Issue 13, item 6: a complaint about water went to gas first (returned), then to water
    with district-a assisting. Water's event log has no notes (the dispatcher wrote what the
    caller said in them) and names neither gas, its staff and reason, nor district-a; water's
    own steps stay whole. The platform and district-a (not complained about) read it all."""
    number = service.create(draft(category="complaint", about_unit="water"), actor="agent").number
    water, gas = Viewer("unit", "water"), Viewer("unit", "gas")
    steps = [
        (Dispatch(actor="d1", at=T0, unit="gas", note="张三说水务的人很凶 13800138000"), AGENT),
        (Return(actor="gas-li", at=T0, reason="不归燃气管", note="gas 退回"), gas),
        (Dispatch(actor="d1", at=T0, unit="water", co_units=("district-a",),
                  note="投诉人张三要求回电"), AGENT),
        (SignFor(actor="water-wang", at=T0, note="水务已签收"), water),
    ]  # fmt: skip
    for action, viewer in steps:
        service.act(number, action, viewer)
    seen = [e.to_json() for e in service.events(number, water)]
    text = json.dumps(seen, ensure_ascii=False)
    for hidden in ("张三", "13800138000", "gas", "燃气", "district-a", "要求回电"):
        assert hidden not in text, (hidden, text)
    assert [e["action"] for e in seen] == ["Dispatch", "Return", "Dispatch", "SignFor"]
    assert seen[1]["actor"] == "" and seen[1]["data"] == {}  # gas's staff and reason
    windows = [e["data"].pop("return_due") for e in seen if e["action"] == "Dispatch"]
    assert all(windows)  # the return window is no secret
    assert seen[2]["data"] == {"unit": "water", "co_units": []}
    assert (seen[3]["actor"], seen[3]["note"]) == ("water-wang", "水务已签收")  # its own step
    assert seen[0]["actor"] == "d1" and seen[0]["data"] == {"unit": "", "co_units": []}
    for whole in (AGENT, Viewer("unit", "district-a")):
        full = json.dumps([e.to_json() for e in service.events(number, whole)], ensure_ascii=False)
        assert "张三说水务的人很凶" in full and "不归燃气管" in full and "gas-li" in full
    # An ordinary ticket of water's keeps its notes.
    plain = service.create(draft(), actor="agent").number
    service.act(plain, Dispatch(actor="d1", at=T0, unit="water", note="请尽快处理"), AGENT)
    assert service.events(plain, water)[-1].note == "请尽快处理"


# --- repeats and key items --------------------------------------------------------------------


def test_repeat_calls_find_the_callers_open_tickets(service: TicketService) -> None:
    old = service.create(draft(), actor="a", at=T0 - timedelta(days=10)).number
    recent = service.create(draft(), actor="a", at=T0 - timedelta(days=3)).number
    done = service.create(draft(category="consultation"), actor="a", at=T0 - timedelta(days=1))
    service.act(done.number, AnswerDirectly(actor="a", at=T0 - timedelta(days=1)), AGENT)
    service.create(draft(caller_number="13900000000"), actor="a", at=T0)

    check = service.repeat_check("138-0013-8000", AGENT, at=T0)
    assert check.repeat and [t.number for t in check.tickets] == [recent]
    # The repeat call is linked; that contact keeps the old ticket in the window too.
    service.link(old, AGENT, calls=("1790000000.9", "1790000000.9"), at=T0)
    assert service.store.get(old).calls == ("1790000000.9",)
    check = service.repeat_check("13800138000", AGENT, at=T0 + timedelta(hours=1))
    assert {t.number for t in check.tickets} == {old, recent}
    assert not service.repeat_check("13700000000", AGENT, at=T0).repeat
    assert not service.repeat_check("", AGENT, at=T0).repeat


def test_same_place_and_subject_from_several_callers_is_a_key_item(
    service: TicketService,
) -> None:
    def call(number: str, address: str, subject: str = "01.01", days: int = 0) -> str:
        d = draft(caller_number=number, address=address, subject_code=subject)
        return service.create(d, actor="a", at=T0 + timedelta(days=days)).number

    old = call("13800000009", "解放路12号", days=-40)  # outside the 30-day window
    first = call("13800000001", "解放路12号")
    call("13800000001", "解放路 12 号")  # the same caller again
    call("13800000002", "解放路１２号", subject="02.01")  # another subject
    second = call("13800000002", "解放路12号。")
    assert not service.store.get(first).key_item
    third = call("13800000003", "解放路12号")
    group = service.store.get(third).key_group
    assert group == first and service.store.get(third).key_item
    members = {t.number for t in service.linked(third, AGENT)}
    assert second in members and first in members and third not in members
    assert len(members) == 3  # first, the same caller's second ticket, second
    assert not service.store.get(old).key_item
    fourth = call("13800000004", "解放路12号")
    assert service.store.get(fourth).key_group == first


def test_hostile_input_never_reaches_the_database(service: TicketService) -> None:
    for bad in ({"address": "x" * 201}, {"description": "a\x00b"},
                {"caller_name": "\udcff"}, {"subject_code": "99.99"}):  # fmt: skip
        with pytest.raises(FieldError):
            service.create(draft(**bad), actor="a")
    with pytest.raises(FieldError, match=r"^actor:"):
        service.create(draft(), actor="")
    with pytest.raises(ValueError, match="naive"):
        service.create(draft(), actor="a", at=datetime(2026, 10, 8, 9))
    assert service.tickets(AGENT) == []


def test_a_voicemail_ticket_is_reviewed_then_worked_like_any_other(service: TicketService) -> None:
    vm = draft(channel="voicemail", description="(transcript)", calls=("1763880000.7",))
    with pytest.raises(FieldError, match=r"^channel"):
        service.create_voicemail(draft(), actor="voicemail")  # a phone intake is not a message
    t = service.create_voicemail(vm, actor="voicemail")
    assert (t.state, t.reply_due_at) == (TicketState.VOICEMAIL_REVIEW, None)
    assert [x.number for x in service.find_by_call("1763880000.7")] == [t.number]
    assert service.find_by_call("1763880000.8") == []
    with pytest.raises(IllegalTransition, match="voicemail_review"):
        service.act(t.number, Dispatch(actor="d", at=T0, unit="water"), AGENT)
    accept = AcceptVoicemail(actor="a", at=T0, description="停水两天", subject_code="02.01")
    accepted = service.act(t.number, accept, AGENT)
    assert (accepted.state, accepted.description, accepted.subject_code) == (
        TicketState.CREATED,
        "停水两天",
        "02.01",
    )
    assert accepted.category == "help" and accepted.reply_due_at is None  # no clock yet
    later = T0 + timedelta(hours=1)
    dispatched = service.act(t.number, Dispatch(actor="d", at=later, unit="water"), AGENT)
    assert dispatched.reply_due_at is not None  # the deadline starts after acceptance
    assert_rebuilds(service, t.number)
    silent = draft(channel="voicemail", description="(no speech)", calls=("1763880000.9",))
    other = service.create_voicemail(silent, actor="voicemail")
    with pytest.raises(FieldError, match=r"^subject_code"):
        service.act(other.number, AcceptVoicemail(actor="a", at=T0, subject_code="77"), AGENT)
    dismissed = service.act(
        other.number, DismissVoicemail(actor="a", at=T0, reason="silence"), AGENT
    )
    assert dismissed.state == TicketState.ARCHIVED
    assert_rebuilds(service, other.number)


def test_the_screen_pop_look_up_does_not_queue_behind_a_writer(ticket_sqlite_url: str) -> None:
    """A read-only look-up (once per call) begins deferred on SQLite: a writer holding the
    write lock (recording rows, call records) does not hold it up (issue 15)."""
    wipe(ticket_sqlite_url)
    store = TicketStore(ticket_sqlite_url)
    service = TicketService(store, TicketSettings(), clock=lambda: T0)
    number = service.create(draft(), actor="a", at=T0).number
    writer = create_engine(ticket_sqlite_url, poolclass=NullPool)
    try:
        with writer.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # another writer holds the lock
            # Taking the write lock to read would wait out the busy timeout and fail.
            check = service.repeat_check("13800138000", AGENT, at=T0)
            assert [t.number for t in check.tickets] == [number]
            conn.exec_driver_sql("ROLLBACK")
    finally:
        writer.dispose()
        store.dispose()
