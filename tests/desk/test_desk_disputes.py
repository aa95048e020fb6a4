"""The ticket page's dispute button says in advance what the lifecycle will say (issue 17 on
the desk), and every refusal the desk can show has its words in Chinese and in English."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.base.i18n import MESSAGES
from hotline.desk.disputes import dispute_panel
from hotline.tickets.lifecycle import (
    ConfirmDispatch,
    Dispatch,
    Dispute,
    IllegalTransition,
    Redispatch,
    Return,
    SignFor,
    TicketSnapshot,
    TicketState,
    apply,
)

T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
WINDOW = T0 + timedelta(days=2)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Rec:
    """The fields of a TicketRecord the panel reads."""

    state: TicketState
    unit: str | None
    snapshot: TicketSnapshot


def dispatched() -> TicketSnapshot:
    snap, _ = apply(
        TicketSnapshot(), Dispatch(actor="d", at=T0, unit="water-co", return_due=WINDOW)
    )
    return snap


def confirmed() -> TicketSnapshot:
    snap = dispatched()
    snap, _ = apply(snap, Dispute(actor="u", at=T0, reason="不是我们的"))
    snap, _ = apply(snap, ConfirmDispatch(actor="s", at=T0, reason="是你们的"))
    return snap


def signed() -> TicketSnapshot:
    return apply(dispatched(), SignFor(actor="u", at=T0))[0]


@pytest.mark.parametrize(
    ("snap", "now", "why"),
    [
        (dispatched, T0 + timedelta(hours=1), ""),
        (dispatched, WINDOW + timedelta(seconds=1), "window"),
        (confirmed, T0 + timedelta(hours=1), "confirmed"),
        (signed, T0 + timedelta(hours=1), "state"),
    ],
)
def test_the_button_agrees_with_the_lifecycle(snap, now, why) -> None:  # type: ignore[no-untyped-def]
    s = snap()
    panel = dispute_panel(Rec(s.state, s.unit, s), "water-co", now)  # type: ignore[arg-type]
    assert (panel.enabled, panel.why) == (why == "", why)
    assert panel.until == "2026-12-09 10:00"  # the window's end in the centre's time
    try:
        apply(s, Dispute(actor="u", at=now, reason="理由"))
        refused = ""
    except IllegalTransition as exc:
        refused = exc.code
    expected = {"": "", "window": "dispute_window", "confirmed": "dispute_confirmed",
                "state": "transition_state"}  # fmt: skip
    assert refused == expected[why]


def test_a_co_unit_sees_why_it_may_not_dispute() -> None:
    s = dispatched()
    panel = dispute_panel(Rec(s.state, s.unit, s), "power-supply", T0)  # type: ignore[arg-type]
    assert (panel.enabled, panel.why) == (False, "co_unit")


def test_refusals_carry_a_code_and_what_fills_it() -> None:
    with pytest.raises(IllegalTransition) as late:
        apply(dispatched(), Dispute(actor="u", at=WINDOW + timedelta(1), reason="理由"))
    assert late.value.code == "dispute_window"
    assert late.value.params["until"] == WINDOW.isoformat()
    with pytest.raises(IllegalTransition) as back:
        apply(confirmed(), Return(actor="u", at=T0, reason="理由"))
    assert back.value.code == "dispute_confirmed"
    disputed = apply(dispatched(), Dispute(actor="u", at=T0, reason="理由"))[0]
    with pytest.raises(IllegalTransition) as same:
        apply(disputed, Redispatch(actor="s", at=T0, unit="water-co"))
    assert same.value.code == "redispatch_same_unit"
    with pytest.raises(IllegalTransition) as plain:
        apply(TicketSnapshot(), SignFor(actor="u", at=T0))
    assert plain.value.code == "transition_state"
    assert plain.value.params == {"action": "SignFor", "state": "created"}


def test_every_refusal_and_reason_is_in_both_languages() -> None:
    source = (ROOT / "hotline" / "desk" / "disputes.py").read_text(encoding="utf-8")
    source += (ROOT / "hotline" / "tickets" / "lifecycle.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'code="([a-z_]+)"', source)) | set(
        re.findall(r'return "(merge_[a-z_]+)"', source)
    )
    codes |= {"transition_state", "reason_required", "not_lead_unit"}
    keys = {f"err_{c}" for c in codes}
    keys |= {f"dispute_off_{w}" for w in ("state", "co_unit", "confirmed", "window")}
    keys |= {f"act_{a}" for a in ("Dispute", "Redispatch", "ConfirmDispatch", "MergeInto")}
    for lang in ("zh", "en"):
        missing = sorted(k for k in keys if k not in MESSAGES[lang])
        assert missing == [], (lang, missing)
    # Chinese text holds no English word (the parameters are filled in by the page).
    for key in keys:
        assert not re.search(r"[A-Za-z]{2,}", MESSAGES["zh"][key].replace("{", " ")
                             .replace("}", " ").replace("until", "").replace("state", "")
                             .replace("action", "")), key  # fmt: skip
