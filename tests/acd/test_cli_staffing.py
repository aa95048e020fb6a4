"""`hotline staffing --date D` on a real ticket store (SQLite file)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from hotline.app.cli import main
from hotline.app.migrate import upgrade
from hotline.calls.store import CallRecordStore
from tests.acd.test_staffing import calls_on

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)


def test_staffing_command_plans_a_day_from_the_stored_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    store = CallRecordStore(url, tmp_path / "spool")
    for d in (date(2026, 10, 12), date(2026, 10, 13)):
        for r in calls_on(d, 14, 60, 100, "w"):
            assert store.write(r) == "written"
    store.dispose()
    cfg = tmp_path / "h.toml"
    cfg.write_text(
        f'[paths]\nstate_dir = "{tmp_path}"\n[database]\nurl = "{url}"\n[acd]\nwrapup_s = 20\n',
        encoding="utf-8",
    )
    assert main(["-c", str(cfg), "staffing", "--date", "2026-10-14"]) == 0
    out = capsys.readouterr().out
    assert "2026-10-14 (workday)" in out and "14:00" in out and "from 2 earlier" in out
    assert main(["-c", str(cfg), "staffing", "--date", "2026-10-14", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    slot = next(s for s in plan["slots"] if s["start"] == "14:00")
    assert slot["forecast_calls"] == 60 and slot["handle_s"] == 120 and slot["agents"] > 0
    assert main(["-c", str(cfg), "staffing", "--date", "15/10/2026"]) == 2
