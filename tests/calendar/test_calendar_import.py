"""Importing a year's arrangement into a real ticket store (SQLite and PostgreSQL), through the
service and the ``hotline calendar`` command: provisional deadlines are counted again, each
change is logged on its ticket, a bad file is refused with its line and stores nothing.

Dates are given (2026-12 to 2027-02), never today's, so the test means the same in any year.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest

from hotline.app.migrate import upgrade
from hotline.base.daytypes import CENTRE_TZ, Source
from hotline.calendar.service import CalendarService
from hotline.tickets.lifecycle import DEADLINE_RECOMPUTED, Dispatch, SignFor, TicketState, rebuild
from hotline.tickets.service import TicketService, TicketSettings
from hotline.tickets.store import TicketStore
from hotline.tickets.values import Channel, TicketDraft, Viewer
from hotline.tickets.workdays import DeadlinePolicy, WorkCalendar
from tests.tickets.test_ticket_store import fresh_pg_database

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "calendar-2027-sample.txt"
PLATFORM = Viewer("supervisor")


def at(y: int, m: int, d: int, hh: int = 10) -> datetime:
    return datetime(y, m, d, hh, tzinfo=CENTRE_TZ)


def eod(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time.max, tzinfo=CENTRE_TZ)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tickets.db'}"
        upgrade(url)
        yield url
    else:
        with fresh_pg_database() as url:
            upgrade(url)
            yield url


def knowing(store: TicketStore, packages_until: int | None) -> TicketService:
    """A service on the store whose packages know the years up to ``packages_until`` (as in
    December 2026 for 2026: whatever release is installed, 2027 stays provisional)."""
    policy = DeadlinePolicy(calendar=WorkCalendar(packages_until=packages_until))
    return TicketService(store, TicketSettings(policy=policy))


def dispatched(service: TicketService, category: str, when: datetime) -> str:
    draft = TicketDraft(
        category=category, subject_code="02.01", description="路灯不亮", channel=Channel.PHONE,
        caller_number="13800138000",
    )  # fmt: skip
    rec = service.create(draft, actor="agent", at=when)
    service.act(rec.number, Dispatch(actor="dispatcher", at=when, unit="城管局"), PLATFORM)
    return rec.number


def test_an_import_recomputes_open_provisional_deadlines_and_logs_each(store_url: str) -> None:
    service = knowing(TicketStore(store_url), 2026)
    calendar = CalendarService(service)
    try:
        calendar.load()
        assert calendar.calendar.year_status(2027).source is Source.PROVISIONAL
        # All in 2026: never provisional.
        plain = dispatched(service, "consultation", at(2026, 12, 20))
        # New Year's Eve: due Tue 5 Jan on either calendar, provisional until the import.
        eve = dispatched(service, "consultation", at(2026, 12, 31))
        # Before the Spring Festival: provisional Fri 12 Feb, official Mon 15 Feb.
        spring = dispatched(service, "consultation", at(2027, 2, 10))
        get = service.store.get
        assert not get(plain).deadline_provisional
        assert get(eve).deadline_provisional and get(eve).reply_due_at == eod(2027, 1, 5)
        assert get(spring).reply_due_at == eod(2027, 2, 12)
        assert get(spring).to_json()["deadline_provisional"] is True  # what the API shows

        result = calendar.import_file(
            SAMPLE.read_bytes(), "calendar-2027-sample.txt", actor="ops", at=at(2027, 2, 10, 11)
        )
        assert result.recomputed == 2
        assert calendar.calendar.year_status(2027).source is Source.OFFICIAL
        after = get(spring)
        assert after.reply_due_at == eod(2027, 2, 15) and not after.deadline_provisional
        log = service.store.events(spring)
        last = log[-1]
        assert last.action == DEADLINE_RECOMPUTED and last.from_state == last.to_state
        moved = {k: datetime.fromisoformat(v) for k, v in last.data["reply_due_at"].items()}
        assert moved == {"from": eod(2027, 2, 12), "to": eod(2027, 2, 15)}
        assert "calendar-2027-sample.txt" in last.note
        assert rebuild(log) == after.snapshot  # the log still folds to the ticket
        # The same date, but no longer provisional: that too is logged.
        eve_log = service.store.events(eve)
        assert eve_log[-1].action == DEADLINE_RECOMPUTED and eve_log[-1].data == {
            "provisional": False
        }
        assert get(eve).reply_due_at == eod(2027, 1, 5) and not get(eve).deadline_provisional
        assert [e.action for e in service.store.events(plain)] == ["Dispatch"]
        # Idempotent: a second pass (the engine's poll) changes nothing.
        assert calendar.recompute("again", now=at(2027, 2, 10, 12)) == 0
        # The ticket goes on: its next step starts from the recomputed deadline.
        unit = Viewer("unit", unit="城管局")
        service.act(spring, SignFor(actor="城管局", at=at(2027, 2, 10, 13)), unit)
        assert get(spring).state is TicketState.SIGNED
        # Another process (the engine) loads the import from the store.
        other = CalendarService(TicketService(TicketStore(store_url)))
        assert other.load() is True
        assert other.calendar.year_status(2027).source is Source.OFFICIAL
        other.tickets.store.dispose()
    finally:
        service.store.dispose()


def test_a_package_that_learnt_the_year_recomputes_at_the_next_start(store_url: str) -> None:
    # Tickets counted while the packages knew 2025 only, 2026 provisional: Spring Festival
    # 2026 by its statutory days (16-19 Feb off, no make-up Saturday).
    before = knowing(TicketStore(store_url), 2025)
    after = knowing(TicketStore(store_url), None)  # the engine restarted on the new release
    try:
        number = dispatched(before, "consultation", at(2026, 2, 12))
        rec = before.store.get(number)
        assert rec.deadline_provisional and rec.reply_due_at == eod(2026, 2, 20)
        # What the engine does at start (Engine._load_calendar): nothing imported, and yet
        # the provisional deadlines are counted again on what the packages now know.
        calendar = CalendarService(after)
        assert calendar.load() is False
        assert calendar.recompute("official calendar available", now=at(2026, 2, 13)) == 1
        rec = after.store.get(number)
        # Official: Sat 14 Feb is a make-up working day.
        assert rec.reply_due_at == eod(2026, 2, 14) and not rec.deadline_provisional
        last = after.store.events(number)[-1]
        assert last.action == DEADLINE_RECOMPUTED and last.actor == "calendar"
        assert last.data["provisional"] is False
        assert last.data["reply_due_at"]["to"] == eod(2026, 2, 14).isoformat()
        assert calendar.recompute("again", now=at(2026, 2, 13)) == 0
    finally:
        before.store.dispose()
        after.store.dispose()


def hotline(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "--config", str(config), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUTF8": "1"},
    )  # fmt: skip


def test_the_calendar_command_imports_and_refuses_with_the_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    upgrade(url)
    config = tmp_path / "hotline.toml"
    config.write_text(
        f'[paths]\nstate_dir = "{tmp_path}"\n\n[database]\nurl = "{url}"\n\n'
        "[tickets]\nextra_years = [2099]\n"
    )
    status = hotline(config, "calendar", "status", "--json")
    assert status.returncode == 0, status.stderr
    years = {y["year"]: y for y in json.loads(status.stdout)}
    this_year = datetime.now(CENTRE_TZ).year  # the command's clock (moved by make test-years)
    assert set(years) == {*range(this_year - 1, this_year + 3), 2099}
    # Each year with its source: configured by the centre, official where a package knows
    # it, provisional two years ahead (no notice is published that early).
    assert years[2099]["source"] == "configured"
    assert years[this_year + 2]["source"] == "provisional", years
    for year in range(this_year - 1, this_year + 3):
        assert years[year]["source"] == WorkCalendar().year_status(year).source.value
    bad = tmp_path / "bad.txt"
    bad.write_text("year 2027\nholiday 2027-02-14 春节\nworkday 2027-02-14 调休\n")
    refused = hotline(config, "calendar", "import", str(bad))
    assert refused.returncode == 2
    assert "line 3" in refused.stderr and "both" in refused.stderr, refused.stderr
    assert "nothing imported" in refused.stderr
    assert TicketStore(url).arrangement_texts() == []
    done = hotline(config, "calendar", "import", str(SAMPLE), "--by", "ops")
    assert done.returncode == 0, done.stderr
    assert "imported 2027: 30 holidays, 5 make-up working days" in done.stdout
    listed = hotline(config, "calendar", "status")
    line_2027 = next(line for line in listed.stdout.splitlines() if line.startswith("2027"))
    assert "official" in line_2027 and "calendar-2027-sample.txt" in line_2027
    missing = hotline(config, "calendar", "import", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
