"""A running engine takes an imported arrangement without a restart, and shows provisional
deadlines and years (issue 12). Whatever today's date: the test imports next year's
arrangement (the statutory days, as a centre would before the notice's make-up days are known)
and watches the engine's calendar turn from the packages' source to the import."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from hotline.base.daytypes import CENTRE_TZ, Source
from hotline.calendar.service import next_year_warning
from hotline.tickets.workdays import WorkCalendar

from ..conftest import EngineProcess

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)


def arrangement_file(year: int, path: Path) -> Path:
    """Next year's statutory holidays in the import format (the provisional days, named)."""
    import holidays

    days = holidays.country_holidays("CN", years=year, language="zh_CN")
    lines = [f"year {year}"] + [
        f"holiday {d.isoformat()} {str(name).split(';')[0].strip()[:40]}"
        for d, name in sorted(days.items())
        if d.year == year
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_import_reaches_the_running_engine_and_provisional_is_shown(
    engine: EngineProcess, tmp_path: Path
) -> None:
    now = datetime.now(CENTRE_TZ)
    next_year = str(now.year + 1)
    before = engine.status()
    assert set(before["calendar"]) == {str(now.year), next_year}
    # The engine's answers agree with the same calendar computed here (the session's store
    # is new: nothing imported yet).
    expected = WorkCalendar().year_status(now.year + 1).source.value
    assert before["calendar"][next_year]["source"] == expected
    warning = next_year_warning(WorkCalendar(), now)
    assert before["calendar_warning"] == warning
    # From 1 November, with next year still provisional, the engine said so at start.
    said = [line for line in engine.log_path.read_text().splitlines() if "尚未导入" in line]
    assert len(said) == (warning is not None), said
    assert warning is None or said[0].endswith(f"WARNING hotline.app.engine: calendar: {warning}")

    made = engine.api(
        "POST", "/api/v1/tickets",
        {"category": "complaint", "subject_code": "02.01", "description": "噪音扰民",
         "caller_number": "13900001234", "actor": "intake"},
    )  # fmt: skip
    number = made["number"]
    done = engine.api("POST", f"/api/v1/tickets/{number}/actions",
                      {"action": "Dispatch", "actor": "dispatcher", "unit": "city-co"})  # fmt: skip
    dispatched = datetime.fromisoformat(done["dispatched_at"])
    due = datetime.fromisoformat(done["reply_due_at"])
    assert done["deadline_provisional"] is WorkCalendar().deadline_provisional(dispatched, due)

    # Next year always (so the engine's reload is seen whatever the packages know); this
    # year too when nobody published it (with the clock moved into 2028, say).
    years = [now.year + 1]
    if WorkCalendar().year_status(now.year).source is Source.PROVISIONAL:
        years.insert(0, now.year)
    for year in years:
        source = arrangement_file(year, tmp_path / f"calendar-{year}.txt")
        imported = subprocess.run(
            [sys.executable, "-m", "hotline", "--config", str(engine.setup.path),
             "calendar", "import", str(source), "--by", "ops"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert f"imported {year}" in imported.stdout

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = engine.status()
        if "imported" in status["calendar"][next_year]["detail"]:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"the engine did not take the import: {status['calendar']}")
    assert status["calendar"][next_year]["source"] == Source.OFFICIAL.value
    assert status["calendar_warning"] is None
    # A 20-working-day deadline ends this year or next, both official now: the import
    # (the command, at once) took the mark away and said so on the ticket.
    assert status["calendar"][str(now.year)]["source"] == Source.OFFICIAL.value
    ticket = engine.api("GET", f"/api/v1/tickets/{number}")
    assert due.year <= now.year + 1 and ticket["deadline_provisional"] is False
    if done["deadline_provisional"]:
        events = engine.api("GET", f"/api/v1/tickets/{number}/events")["events"]
        assert events[-1]["action"] == "DeadlineRecomputed", events
        assert events[-1]["data"]["provisional"] is False
    # A ticket dispatched now is counted by the engine on the imported year.
    again = engine.api(
        "POST", "/api/v1/tickets",
        {"category": "complaint", "subject_code": "02.01", "description": "噪音扰民",
         "caller_number": "13900001234", "actor": "intake"},
    )  # fmt: skip
    path = f"/api/v1/tickets/{again['number']}/actions"
    dispatch = {"action": "Dispatch", "actor": "dispatcher", "unit": "city-co"}
    later = engine.api("POST", path, dispatch)
    assert later["deadline_provisional"] is False
