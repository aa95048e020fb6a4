"""Disputes (派单异议), re-dispatch (改派), merging (并单) and the 2025 callback survey rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.tickets.lifecycle import (
    Archive,
    CloseByUnit,
    ConfirmDispatch,
    Dispatch,
    Dispute,
    IllegalTransition,
    InformCaller,
    LeadClosed,
    MergeInto,
    RecordSurvey,
    Redispatch,
    Return,
    Review,
    Rules,
    SignFor,
    StartWork,
    TicketSnapshot,
    TicketState,
    TransitionEvent,
    apply,
    rebuild,
)
from tests.tickets.test_ticket_lifecycle import AT, T0, TO_REVIEWED, run

S = TicketState
WINDOW_END = T0 + timedelta(days=2)
DISPATCH = Dispatch(**AT, unit="water-company", return_due=WINDOW_END)
DISPUTE = Dispute(**AT, reason="the estate owns that pipe", proposed_unit="housing-bureau")


def test_a_dispute_keeps_the_unit_until_the_dispatcher_decides() -> None:
    snap, events = run([DISPATCH, DISPUTE])
    assert (snap.state, snap.unit, snap.disputed) == (S.DISPUTED, "water-company", True)
    assert events[-1].data == {"reason": DISPUTE.reason, "proposed_unit": "housing-bureau"}
    assert rebuild(TransitionEvent.from_json(e.to_json()) for e in events) == snap


def test_a_dispute_after_the_return_window_is_refused() -> None:
    snap, _ = run([DISPATCH])
    late = Dispute(actor="u", at=WINDOW_END + timedelta(seconds=1), reason="late")
    with pytest.raises(IllegalTransition, match="return window ended at 2026-10-02"):
        apply(snap, late)
    on_time = Dispute(actor="u", at=WINDOW_END, reason="just in time")
    assert apply(snap, on_time)[0].state == S.DISPUTED


def test_redispatch_goes_to_another_unit_with_a_fresh_window() -> None:
    again = Redispatch(**AT, unit="housing-bureau", return_due=WINDOW_END + timedelta(days=3))
    snap, _ = run([DISPATCH, DISPUTE, again])
    assert (snap.state, snap.unit, snap.disputed) == (S.DISPATCHED, "housing-bureau", False)
    assert snap.dispute_until == WINDOW_END + timedelta(days=3)
    # The new unit may dispute in its own turn.
    assert apply(snap, DISPUTE)[0].state == S.DISPUTED
    with pytest.raises(IllegalTransition, match="confirm the dispatch instead"):
        run([DISPATCH, DISPUTE, Redispatch(**AT, unit="water-company")])


def test_a_confirmed_dispatch_can_be_neither_disputed_again_nor_returned() -> None:
    snap, _ = run([DISPATCH, DISPUTE, ConfirmDispatch(**AT, reason="the main is yours")])
    assert (snap.state, snap.unit) == (S.DISPATCHED, "water-company")
    with pytest.raises(IllegalTransition, match="already disputed"):
        apply(snap, DISPUTE)
    with pytest.raises(IllegalTransition, match="confirmed this dispatch"):
        apply(snap, Return(**AT, reason="still not ours"))
    assert apply(snap, SignFor(**AT))[0].state == S.SIGNED


def test_dispute_needs_a_reason_and_only_the_dispatched_state_allows_it() -> None:
    with pytest.raises(ValueError, match="dispute reason"):
        Dispute(**AT, reason=" ")
    snap, _ = run([DISPATCH, SignFor(**AT)])
    with pytest.raises(IllegalTransition, match="Dispute is not allowed in state signed"):
        apply(snap, DISPUTE)


LEAD = "202609300001"


def test_merge_then_inform_the_caller_when_the_lead_closes() -> None:
    snap, _ = run([DISPATCH, MergeInto(**AT, lead=LEAD)])
    assert (snap.state, snap.unit, snap.merged_into) == (S.MERGED, None, LEAD)
    with pytest.raises(IllegalTransition, match=f"merged into {LEAD}, not 202609300009"):
        apply(snap, LeadClosed(**AT, lead="202609300009", result="x"))
    snap, _ = apply(snap, LeadClosed(**AT, lead=LEAD, result="pipe repaired"))
    assert snap.state == S.INFORM_PENDING
    missed = InformCaller(**AT, reached=False, method="automated", call_id="1700000000.1")
    snap, _ = apply(snap, missed)
    assert (snap.state, snap.survey_attempts) == (S.INFORM_PENDING, 1)
    with pytest.raises(IllegalTransition, match="1 of 3 inform attempts"):
        apply(snap, Archive(**AT))
    assert apply(snap, InformCaller(**AT, reached=True))[0].state == S.ARCHIVED


def test_a_merged_order_cannot_be_worked_on() -> None:
    snap, _ = run([MergeInto(**AT, lead=LEAD)])
    for action in (DISPATCH, SignFor(**AT), Archive(**AT), MergeInto(**AT, lead=LEAD)):
        with pytest.raises(IllegalTransition, match="merged"):
            apply(snap, action)


def automated(outcome: str, solved: bool | None) -> RecordSurvey:
    return RecordSurvey(**AT, outcome=outcome, solved=solved, method="automated")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outcome", "solved", "target"),
    [
        ("satisfied", True, S.CALLBACK_DONE),
        ("basically_satisfied", True, S.CALLBACK_DONE),
        ("satisfied", False, S.REOPENED),  # satisfied with the staff, but the matter is not solved
        ("unsatisfied", True, S.REOPENED),
        ("unsatisfied", False, S.REOPENED),
        ("unreachable", None, S.CALLBACK_DONE),
    ],
)
def test_survey_results(outcome: str, solved: bool | None, target: TicketState) -> None:
    snap, events = run([*TO_REVIEWED, automated(outcome, solved)])
    assert snap.state == target
    assert events[-1].data["method"] == "automated" and events[-1].data["solved"] == solved
    if target == S.REOPENED:
        assert (snap.unit, snap.reopen_count, snap.survey_attempts) == ("water-company", 1, 0)
    assert rebuild(events) == snap


def test_unsatisfied_under_the_manual_rule_waits_for_a_supervisor() -> None:
    manual = Rules(redo_after_unsatisfied=False)
    snap, _ = run([*TO_REVIEWED, automated("satisfied", False)], manual)
    assert (snap.state, snap.survey_solved) == (S.CALLBACK_DONE, False)
    assert apply(snap, Archive(**AT), manual)[0].state == S.ARCHIVED


def test_automated_unreachable_three_times_then_archive() -> None:
    rules = Rules(archive_after_unreachable=3)
    snap, _ = run([*TO_REVIEWED, *[automated("unreachable", None)] * 3], rules)
    assert (snap.state, snap.survey_attempts) == (S.CALLBACK_DONE, 3)
    assert apply(snap, Archive(**AT), rules)[0].state == S.ARCHIVED
    # A later attempt that reaches an unhappy citizen still sends it back.
    assert apply(snap, automated("unsatisfied", False), rules)[0].state == S.REOPENED


def test_survey_fields_are_checked() -> None:
    with pytest.raises(ValueError, match="asks whether the matter was solved"):
        automated("satisfied", None)
    with pytest.raises(ValueError, match="unreachable citizen"):
        automated("unreachable", True)
    with pytest.raises(ValueError, match="method"):
        RecordSurvey(**AT, outcome="satisfied", method="robot")  # type: ignore[arg-type]
    human = RecordSurvey(**AT, outcome="basically_satisfied")  # a human may skip "solved"
    snap, events = run([*TO_REVIEWED, human])
    assert snap.state == S.CALLBACK_DONE and events[-1].data["method"] == "human"


def test_a_redo_after_the_survey_closes_again_normally() -> None:
    redo = [StartWork(**AT), CloseByUnit(**AT, result="fixed again"), Review(**AT, approved=True)]
    snap, _ = run(
        [*TO_REVIEWED, automated("unsatisfied", False), *redo, automated("satisfied", True)]
    )
    assert (snap.state, snap.reopen_count, snap.survey_outcome) == (S.CALLBACK_DONE, 1, "satisfied")
    assert snap == rebuild(run([*TO_REVIEWED, automated("unsatisfied", False), *redo,
                                automated("satisfied", True)])[1])  # fmt: skip
    assert TicketSnapshot().merged_into is None


def test_every_state_has_a_phase_for_the_phone_status() -> None:
    from hotline.ivr.ticket_status import PHASES

    assert set(PHASES) == {s.value for s in TicketState}
