"""The pure decisions of the ticket service: deadlines per step, who may do and see what,
key items, action limits. Calendar facts as in test_workdays.py (2026, hand-checked):

    Sep 30 Wed   last working day before National Day
    Oct 1-7      National Day holiday
    Oct 8, 9     working days (Thu, Fri)
    Oct 10 Sat   make-up WORKING day
    Oct 11 Sun   rest
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from hotline.base.daytypes import CENTRE_TZ
from hotline.base.settings import load_config
from hotline.tickets.lifecycle import (
    AcceptVoicemail,
    Archive,
    CloseByUnit,
    DismissVoicemail,
    Dispatch,
    GrantExtension,
    IllegalTransition,
    Reopen,
    RequestExtension,
    Return,
    Review,
    SignFor,
    TicketState,
)
from hotline.tickets.service import (
    TicketSettings,
    can_see,
    clean_action,
    identity_hidden,
    key_group_for,
    plan_transition,
    redact,
    settings_from_config,
)
from hotline.tickets.values import (
    AccessDenied,
    FieldError,
    Similar,
    TicketNotFound,
    TicketRecord,
    Viewer,
)
from hotline.tickets.workdays import Category

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

S = TicketState
SETTINGS = TicketSettings()
AGENT = Viewer("agent")
T0 = datetime(2026, 9, 30, 10, 0, tzinfo=CENTRE_TZ)


def eod(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=CENTRE_TZ)


def record(**kw: Any) -> TicketRecord:
    fields: dict[str, Any] = {
        "id": 1, "number": "202609300000019", "created_at": T0, "created_by": "agent-7",
        "updated_at": T0, "category": "consultation", "handling_type": "normal",
        "subject_code": "02.01", "description": "停水了", "channel": "phone",
        "caller_name": "张三", "caller_number": "13800138000", "contact": "13800138000",
        "address": "人民路5号", "about_unit": "", "confidential": False, "key_item": False,
        "key_group": None, "state": S.CREATED, "unit": None, "co_units": (),
        "extension_days": 0, "pending_extension_days": 0, "survey_attempts": 0,
        "survey_outcome": None, "reopen_count": 0, "last_event_seq": 0, "last_contact_at": T0,
        "calls": ("1790000000.1",), "recordings": ("r/1.wav",),
    }  # fmt: skip
    fields.update(kw)
    return TicketRecord(**fields)


def dispatched(**kw: Any) -> TicketRecord:
    base = {"state": S.DISPATCHED, "unit": "water", "co_units": ("district-a",)}
    base.update(kw)
    return record(**base)


def test_dispatch_of_a_consultation_before_national_day() -> None:
    plan = plan_transition(record(), Dispatch(actor="d", at=T0, unit="water"), AGENT, SETTINGS)
    assert plan.snapshot.state is S.DISPATCHED
    assert plan.changes["reply_due_at"] == eod(2026, 10, 9)  # Oct 8, Oct 9
    assert plan.changes["return_due_at"] == eod(2026, 10, 9)
    assert plan.changes["onsite_due_at"] is None
    assert plan.due_at is None  # no deadline was in force before the dispatch
    assert plan.event.seq == 1 and plan.event.data == {
        "unit": "water", "co_units": [], "return_due": eod(2026, 10, 9).isoformat()
    }  # fmt: skip


def test_emergency_gets_on_site_and_two_day_deadlines() -> None:
    rec = record(category="help", handling_type="emergency")
    plan = plan_transition(rec, Dispatch(actor="d", at=T0, unit="water"), AGENT, SETTINGS)
    assert plan.changes["onsite_due_at"] == T0 + timedelta(hours=2)
    assert plan.changes["reply_due_at"] == eod(2026, 10, 9)  # emergency: 2, not help's 20


def test_extension_granted_spans_the_make_up_saturday() -> None:
    rec = dispatched(state=S.EXTENSION_REQUESTED, pending_extension_days=3,
                     reply_due_at=eod(2026, 10, 9))  # fmt: skip
    plan = plan_transition(rec, GrantExtension(actor="d", at=T0, days=3), AGENT, SETTINGS)
    # Oct 10 (make-up Saturday), Oct 12 (Mon), Oct 13 (Tue); Sunday Oct 11 does not count.
    assert plan.changes["reply_due_at"] == eod(2026, 10, 13)
    assert plan.snapshot.extension_days == 3


def test_an_extension_asked_too_late_is_refused() -> None:
    rec = dispatched(state=S.IN_PROGRESS, reply_due_at=eod(2026, 10, 9))
    too_late = RequestExtension(actor="u", at=datetime(2026, 10, 8, 9, tzinfo=CENTRE_TZ),
                                days=2, reason="parts on order")  # fmt: skip
    with pytest.raises(IllegalTransition, match="at least 2 working days before"):
        plan_transition(rec, too_late, AGENT, SETTINGS)
    in_time = replace(too_late, at=datetime(2026, 9, 30, 9, tzinfo=CENTRE_TZ))
    rec = replace(rec, updated_at=in_time.at)
    assert plan_transition(rec, in_time, AGENT, SETTINGS).snapshot.pending_extension_days == 2


def test_closure_is_judged_against_the_deadline_in_force() -> None:
    rec = dispatched(state=S.IN_PROGRESS, reply_due_at=eod(2026, 10, 9))
    at = datetime(2026, 10, 9, 18, tzinfo=CENTRE_TZ)
    plan = plan_transition(rec, CloseByUnit(actor="u", at=at, result="fixed"), AGENT, SETTINGS)
    assert plan.due_at == eod(2026, 10, 9)
    assert plan.changes == {
        "closed_at": at,
        "callback_due_at": eod(2026, 10, 12),
        "deadline_provisional": False,  # 2026 is an official year
    }


def test_reopen_gives_a_fresh_period_and_a_supervision_notice() -> None:
    rec = dispatched(state=S.CALLBACK_DONE, survey_outcome="unsatisfied", survey_attempts=1,
                     reply_due_at=eod(2026, 10, 9))  # fmt: skip
    at = datetime(2026, 10, 9, 9, tzinfo=CENTRE_TZ)
    plan = plan_transition(rec, Reopen(actor="s", at=at), AGENT, SETTINGS)
    assert plan.notice_reason == "reopened"
    assert plan.changes["reply_due_at"] == eod(2026, 10, 12)  # Oct 10 (Sat, make-up), Oct 12


def test_review_not_approved_clears_the_closure() -> None:
    rec = dispatched(state=S.CLOSED_BY_UNIT, closed_at=T0, callback_due_at=eod(2026, 10, 9))
    plan = plan_transition(rec, Review(actor="s", at=T0, approved=False), AGENT, SETTINGS)
    assert plan.snapshot.state is S.IN_PROGRESS
    assert plan.changes == {
        "closed_at": None,
        "callback_due_at": None,
        "deadline_provisional": False,
    }


def test_time_does_not_run_backwards() -> None:
    rec = record(updated_at=T0)
    with pytest.raises(FieldError, match=r"^at:"):
        plan_transition(rec, Dispatch(actor="d", at=T0 - timedelta(seconds=1), unit="w"),
                        AGENT, SETTINGS)  # fmt: skip


def test_units_act_only_on_their_own_orders_and_only_as_a_unit() -> None:
    rec = dispatched()
    lead, co, other = Viewer("unit", "water"), Viewer("unit", "district-a"), Viewer("unit", "x")
    assert plan_transition(rec, SignFor(actor="u", at=T0), lead, SETTINGS).snapshot.state is (
        S.SIGNED
    )
    with pytest.raises(AccessDenied, match="only the lead unit water"):
        plan_transition(rec, SignFor(actor="u", at=T0), co, SETTINGS)
    with pytest.raises(TicketNotFound):
        plan_transition(rec, SignFor(actor="u", at=T0), other, SETTINGS)
    with pytest.raises(AccessDenied, match="for the hotline platform"):
        plan_transition(rec, Archive(actor="u", at=T0), lead, SETTINGS)
    # A return is the unit's too, and clears the units.
    back = plan_transition(rec, Return(actor="u", at=T0, reason="not ours"), lead, SETTINGS)
    assert back.snapshot.unit is None and back.snapshot.co_units == ()


def test_visibility_and_redaction() -> None:
    complaint = dispatched(category="complaint", about_unit="water")
    lead, co = Viewer("unit", "water"), Viewer("unit", "district-a")
    assert can_see(complaint, lead) and can_see(complaint, co) and can_see(complaint, AGENT)
    assert not can_see(complaint, Viewer("unit", "gas"))
    hidden = redact(complaint, lead)
    assert hidden.redacted and hidden.caller_name == hidden.caller_number == hidden.contact == ""
    assert hidden.calls == hidden.recordings == ()
    assert hidden.description == complaint.description  # the matter itself must be handled
    assert not identity_hidden(complaint, co)  # the complaint is not about district-a
    assert not identity_hidden(complaint, AGENT)
    # A complaint that names no unit protects the complainant from whoever handles it.
    assert identity_hidden(replace(complaint, about_unit=""), co)
    # A help request shows the caller, unless the caller asked for confidentiality.
    assert not identity_hidden(dispatched(), lead)
    assert identity_hidden(dispatched(confidential=True), lead)


def test_key_group_needs_distinct_callers() -> None:
    a = Similar("202610080000017", "13800000001", None)
    b = Similar("202610080000025", "13800000001", None)  # same caller again
    c = Similar("202610080000033", "", None)  # anonymous: cannot count as another person
    d = Similar("202610090000012", "13800000002", None)
    e = Similar("202610090000020", "13800000003", None)
    assert key_group_for([a, b, c, d], threshold=3) is None
    assert key_group_for([a, b, c, d, e], threshold=3) == a.number
    grouped = replace(d, key_group="202610010000018")
    assert key_group_for([a, grouped, e], threshold=3) == "202610010000018"


@pytest.mark.parametrize(
    ("action", "field"),
    [
        (Dispatch(actor="d" * 65, at=T0, unit="w"), "actor"),
        (Dispatch(actor="d", at=T0, unit="w", note="n" * 1001), "note"),
        (Dispatch(actor="d", at=T0, unit="w/../x"), "unit"),
        (Dispatch(actor="d", at=T0, unit="w", co_units=tuple(f"u{i}" for i in range(11))),
         "co_units"),
        (Return(actor="d", at=T0, reason="r" * 1001), "reason"),
        (CloseByUnit(actor="d", at=T0, result="\x00"), "result"),
        (GrantExtension(actor="d", at=T0, days=61), "days"),
    ],
)  # fmt: skip
def test_action_limits(action: Any, field: str) -> None:
    with pytest.raises(FieldError) as err:
        clean_action(action)
    assert err.value.field == field


def test_settings_from_config_apply_local_rules(tmp_path: Any) -> None:
    path = tmp_path / "h.toml"
    path.write_text(
        "[tickets]\nextra_holidays = [2026-10-08]\nreply_workdays = { consultation = 3 }\n"
        "repeat_window_days = 14\n[tickets.subjects]\n'A' = 'x'\n'A.1' = 'y'\n",
        encoding="utf-8",
    )
    s = settings_from_config(load_config(path, environ={}).tickets)
    assert s.repeat_window_days == 14 and s.subjects.validate("A.1") == "A.1"
    assert s.policy.reply_workdays[Category.CONSULTATION] == 3
    assert s.policy.reply_workdays[Category.HELP] == 20
    # Oct 8 is a local holiday now: Oct 9, Oct 10 (make-up Saturday), Oct 12.
    assert s.policy.reply_deadline(Category.CONSULTATION, T0) == eod(2026, 10, 12)
    default = settings_from_config(load_config(None, environ={}).tickets)
    assert default.subjects.validate("02.01") == "02.01"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("reply_workdays = { urgent = 3 }", "tickets.reply_workdays"),
        ("reply_workdays = { help = 0 }", "tickets.reply_workdays"),
        ("subjects = { '01.02' = 'orphan' }", "tickets.subjects"),
        ("subjects = { 'a b' = 'space' }", "tickets.subjects"),
        ("repeat_window_days = 0", "tickets.repeat_window_days"),
        ("key_item_threshold = 1", "tickets.key_item_threshold"),
        ("extra_holidays = [2026-10-09]\nextra_workdays = [2026-10-09]", "extra_workdays"),
        ("extra_holidays = ['not a date']", "tickets.extra_holidays"),
    ],
)
def test_wrong_ticket_settings_name_the_key(tmp_path: Any, toml: str, key: str) -> None:
    from hotline.base.settings import ConfigError

    path = tmp_path / "h.toml"
    path.write_text(f"[tickets]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert key in str(err.value)


# --- voicemail awaiting review ------------------------------------------------------------------


def voicemail(**kw: Any) -> TicketRecord:
    base: dict[str, Any] = {
        "state": S.VOICEMAIL_REVIEW, "channel": "voicemail", "subject_code": "99",
        "description": "엄마 나비 와요", "caller_name": "", "contact": "", "address": "",
    }  # fmt: skip
    base.update(kw)
    return record(**base)


def test_accepting_a_voicemail_applies_the_reviewers_corrections_and_no_deadline() -> None:
    accept = AcceptVoicemail(
        actor="agent-7",
        at=T0,
        description=" 家里停水三天了 ",
        category="help",
        subject_code="02.01",
    )
    plan = plan_transition(voicemail(), clean_action(accept), AGENT, SETTINGS)
    assert plan.snapshot.state is S.CREATED
    assert plan.changes == {
        "description": "家里停水三天了", "category": "help", "subject_code": "02.01"
    }  # fmt: skip
    assert plan.due_at is None  # deadlines start with the dispatch that follows
    bare = plan_transition(voicemail(), AcceptVoicemail(actor="a", at=T0), AGENT, SETTINGS)
    assert bare.changes == {}  # nothing corrected: intake's text stays


@pytest.mark.parametrize(
    ("accept", "field"),
    [
        (AcceptVoicemail(actor="a", at=T0, category="gossip"), "category"),
        (AcceptVoicemail(actor="a", at=T0, subject_code="42.42"), "subject_code"),
        (AcceptVoicemail(actor="a", at=T0, description="x" * 4001), "description"),
        (AcceptVoicemail(actor="a", at=T0, description="bad\x00"), "description"),
    ],
)
def test_bad_voicemail_corrections_name_the_field(accept: AcceptVoicemail, field: str) -> None:
    with pytest.raises(FieldError) as err:
        plan_transition(voicemail(), clean_action(accept), AGENT, SETTINGS)
    assert err.value.field == field


def test_dismissing_a_voicemail_needs_a_reason_and_platform_staff() -> None:
    dismiss = DismissVoicemail(actor="a", at=T0, reason="silence")
    assert plan_transition(voicemail(), dismiss, AGENT, SETTINGS).snapshot.state is S.ARCHIVED
    with pytest.raises(TicketNotFound):  # no unit holds a message under review
        plan_transition(voicemail(), dismiss, Viewer("unit", "water"), SETTINGS)
    with pytest.raises(IllegalTransition):
        plan_transition(voicemail(), Dispatch(actor="d", at=T0, unit="water"), AGENT, SETTINGS)
