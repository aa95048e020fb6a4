"""The ticket page's deadline card, subject path and times (hotline/desk/ticketview.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.desk.ticketview import deadline, subject_words, when

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class Rec:
    """The fields of a TicketRecord the deadline reads."""

    def __init__(self, due: datetime | None, closed: datetime | None = None, prov: bool = False):
        self.reply_due_at, self.closed_at, self.deadline_provisional = due, closed, prov


def card(status: str) -> Any:
    return lambda _due, _now: status


def test_deadline_shows_time_left_late_and_provisional() -> None:
    soon = deadline(Rec(NOW + timedelta(days=1, hours=3)), NOW, card("due_soon"))  # type: ignore[arg-type]
    assert soon is not None and soon.card == "yellow" and (soon.days, soon.hours) == (1, 3)
    assert not soon.late and soon.due == "2026-12-08 13:00"  # Shanghai, 24-hour
    late = deadline(Rec(NOW - timedelta(hours=5), prov=True), NOW, card("overdue"))  # type: ignore[arg-type]
    assert late is not None and late.late and late.card == "red" and late.hours == 5
    assert late.provisional
    assert deadline(Rec(None), NOW, card("ok")) is None  # type: ignore[arg-type]
    assert deadline(Rec(NOW, closed=NOW), NOW, card("ok")) is None  # type: ignore[arg-type]


def test_subject_in_words_and_times_in_the_centre_zone() -> None:
    names = {"02": "公用事业", "02.01": "供水"}
    assert subject_words("02.01", names) == "公用事业 › 供水"
    assert subject_words("07", names) == "07" and subject_words("", names) == "—"
    assert when(datetime(2026, 12, 7, 16, 30)) == "2026-12-08 00:30"  # naive: stored as UTC
    assert when(None) == "—"


def test_the_catalogue_is_complete_in_both_languages() -> None:
    """Every phrase has its English (a missing one would show Chinese in the English page), and
    every ticket state, role and not-ready reason has a display name."""
    from hotline.base.i18n import MESSAGES
    from hotline.base.web.security import ROLES
    from hotline.desk.guard import REASONS
    from hotline.tickets.lifecycle import TicketState

    assert set(MESSAGES["zh"]) == set(MESSAGES["en"])
    names = [f"tstate_{s.value}" for s in TicketState] + [f"role_{r}" for r in ROLES]
    acd_reasons = ("login", "ring_no_answer", "other_call", "supervisor", "callback")
    names += [f"reason_{r}" for r in (*REASONS, *acd_reasons)]
    assert [n for n in names if n not in MESSAGES["zh"]] == []


def test_every_api_error_code_is_worded_in_both_languages_and_seat_spelt_one_way() -> None:
    """The page shows err_<code> (desk.js apiError), never the server's English: every code the
    server can send (an explicit code= or the status's default) has its words. 坐席, never 座席."""
    import re
    from pathlib import Path

    from hotline.base.i18n import MESSAGES
    from hotline.base.web.guard import STATUS_CODES

    root = Path(__file__).resolve().parents[2] / "hotline"
    sources = "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    codes = set(re.findall(r'\bcode="([a-z_]+)"', sources)) | set(STATUS_CODES.values())
    codes |= {"not_on_call", "call_state"}  # callcontrol.http._call_code
    assert len(codes) > 10, codes
    for lang in ("zh", "en"):
        assert sorted(c for c in codes if f"err_{c}" not in MESSAGES[lang]) == [], lang
    assert [k for k, v in MESSAGES["zh"].items() if "座席" in v] == []
    assert "{year}" in MESSAGES["zh"]["calendar_provisional"]
    assert "{year}" in MESSAGES["en"]["calendar_provisional"]
