"""Random action sequences: no illegal state is ever reached, and the log rebuilds the ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.lifecycle import (
    ACTION_TYPES,
    INITIAL_STATES,
    SURVEY_METHODS,
    SURVEY_OUTCOMES,
    TABLE,
    AcceptVoicemail,
    Action,
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
    Reopen,
    RequestExtension,
    Return,
    Review,
    Rules,
    SignFor,
    StartWork,
    SurveyMethod,
    TicketSnapshot,
    TicketState,
    TransitionEvent,
    apply,
    next_actions,
    rebuild,
)

S = TicketState
UNITS = ("water-company", "housing-bureau", "district-a", "district-b")
HAS_UNIT = {
    S.DISPATCHED, S.SIGNED, S.IN_PROGRESS, S.EXTENSION_REQUESTED, S.CLOSED_BY_UNIT,
    S.REVIEWED, S.CALLBACK_DONE, S.REOPENED, S.DISPUTED,
}  # fmt: skip
NO_UNIT = {
    S.VOICEMAIL_REVIEW, S.CREATED, S.RETURNED, S.CLOSED_DIRECT, S.MERGED, S.INFORM_PENDING,
}  # fmt: skip
LEADS = ("202609300001", "202609300002")
# Where each table entry may lead: its fixed target, or the targets its guard can choose.
GUARD_TARGETS = {
    (S.EXTENSION_REQUESTED, GrantExtension): {S.IN_PROGRESS},
    (S.CLOSED_BY_UNIT, Review): {S.REVIEWED, S.IN_PROGRESS},
    (S.REVIEWED, RecordSurvey): {S.CALLBACK_DONE, S.REOPENED},
    (S.CALLBACK_DONE, RecordSurvey): {S.CALLBACK_DONE, S.REOPENED},
    (S.DISPATCHED, Return): {S.RETURNED},
    (S.DISPATCHED, Dispute): {S.DISPUTED},
    (S.DISPUTED, Redispatch): {S.DISPATCHED},
    (S.MERGED, LeadClosed): {S.INFORM_PENDING},
    (S.INFORM_PENDING, InformCaller): {S.INFORM_PENDING, S.ARCHIVED},
    (S.INFORM_PENDING, Archive): {S.ARCHIVED},
    (S.CALLBACK_DONE, Reopen): {S.REOPENED},
    (S.CALLBACK_DONE, Archive): {S.ARCHIVED},
}
ALLOWED = {
    key: {target} if isinstance(target, TicketState) else GUARD_TARGETS[key]
    for key, target in TABLE.items()
}

who: dict[str, st.SearchStrategy[Any]] = {
    "actor": st.sampled_from(("agent-7", "dispatcher-2", "unit-clerk", "supervisor")),
    "at": st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2026, 12, 31),
        timezones=st.just(CENTRE_TZ),
    ),
    "note": st.text(max_size=5),
}
text = st.text(min_size=1, max_size=8).filter(str.strip)
days = st.integers(min_value=1, max_value=10)


@st.composite
def dispatches(draw: st.DrawFn, kind: type[Dispatch] = Dispatch) -> Dispatch:
    unit = draw(st.sampled_from(UNITS))
    others = [u for u in UNITS if u != unit]
    co = draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
    due = draw(st.none() | who["at"])  # None: a dispatch logged before return windows
    return kind(
        actor=draw(who["actor"]), at=draw(who["at"]), unit=unit, co_units=tuple(co),
        return_due=due,
    )  # fmt: skip


@st.composite
def surveys(draw: st.DrawFn) -> RecordSurvey:
    outcome = draw(st.sampled_from(SURVEY_OUTCOMES))
    method: SurveyMethod = draw(st.sampled_from(SURVEY_METHODS))
    if outcome == "unreachable":
        solved = None
    elif method == "automated":
        solved = draw(st.booleans())
    else:
        solved = draw(st.none() | st.booleans())
    return RecordSurvey(
        actor=draw(who["actor"]), at=draw(who["at"]), outcome=outcome, solved=solved,
        method=method,
    )  # fmt: skip


ACTIONS: dict[type[Action], st.SearchStrategy[Action]] = {
    AnswerDirectly: st.builds(AnswerDirectly, **who),
    Dispatch: dispatches(),
    SignFor: st.builds(SignFor, **who),
    Return: st.builds(Return, **who, reason=text),
    StartWork: st.builds(StartWork, **who),
    RequestExtension: st.builds(RequestExtension, **who, days=days, reason=text),
    GrantExtension: st.builds(GrantExtension, **who, days=days),
    RefuseExtension: st.builds(RefuseExtension, **who, reason=text),
    CloseByUnit: st.builds(CloseByUnit, **who, result=text),
    Review: st.builds(Review, **who, approved=st.booleans()),
    RecordSurvey: surveys(),
    Reopen: st.builds(Reopen, **who),
    Archive: st.builds(Archive, **who),
    AcceptVoicemail: st.builds(
        AcceptVoicemail, **who, description=st.text(max_size=8), category=st.just("")
    ),
    DismissVoicemail: st.builds(DismissVoicemail, **who, reason=text),
    Dispute: st.builds(Dispute, **who, reason=text),
    Redispatch: dispatches(Redispatch),
    ConfirmDispatch: st.builds(ConfirmDispatch, **who, reason=text),
    MergeInto: st.builds(MergeInto, **who, lead=st.sampled_from(LEADS)),
    LeadClosed: st.builds(LeadClosed, **who, lead=st.sampled_from(LEADS), result=text),
    InformCaller: st.builds(
        InformCaller, **who, reached=st.booleans(), method=st.sampled_from(("human", "automated"))
    ),
}
rules_strategy = st.builds(
    Rules,
    archive_after_unreachable=st.integers(min_value=1, max_value=4),
    max_reopens=st.none() | st.integers(min_value=0, max_value=2),
    redo_after_unsatisfied=st.booleans(),
)


def check_invariants(snap: TicketSnapshot, events: list[TransitionEvent], rules: Rules) -> None:
    assert snap.last_event_seq == len(events)
    if snap.state in HAS_UNIT:
        assert snap.unit is not None
    if snap.state in NO_UNIT:
        assert snap.unit is None and snap.co_units == ()
    assert snap.unit not in snap.co_units
    assert (snap.pending_extension_days > 0) == (snap.state == S.EXTENSION_REQUESTED)
    assert snap.extension_days >= 0
    if snap.state == S.CALLBACK_DONE:
        assert snap.survey_outcome is not None and snap.survey_attempts >= 1
    elif snap.survey_outcome is not None:
        assert snap.state == S.ARCHIVED  # archived straight from the callback
    if snap.state == S.ARCHIVED and snap.survey_outcome == "unreachable":
        assert snap.survey_attempts >= rules.archive_after_unreachable
    if rules.max_reopens is not None:
        assert snap.reopen_count <= rules.max_reopens
    # Merging: only a merged order names a lead, and it has no unit.
    if snap.state in (S.MERGED, S.INFORM_PENDING):
        assert snap.merged_into in LEADS
    # A survey needing a redo never rests in callback_done while a redo is still allowed.
    if snap.state == S.CALLBACK_DONE and rules.redo_after_unsatisfied:
        needs_redo = snap.survey_outcome == "unsatisfied" or snap.survey_solved is False
        if needs_redo:
            assert rules.max_reopens is not None and snap.reopen_count >= rules.max_reopens
    if snap.survey_outcome == "unreachable":
        assert snap.survey_solved is None
    if snap.state == S.DISPUTED:
        assert snap.disputed
    if snap.state in NO_UNIT:
        assert not snap.disputed


def check_step(before: TicketSnapshot, action: Action, after: TicketSnapshot) -> None:
    """What each new event must have done, judged from the outside."""
    if isinstance(action, Dispute):
        # Within the window the dispatch gave, and once per dispatch.
        assert not before.disputed
        assert before.dispute_until is None or action.at <= before.dispute_until
    if isinstance(action, Redispatch):
        assert action.unit != before.unit and after.unit == action.unit and not after.disputed
    if isinstance(action, ConfirmDispatch):
        assert after.unit == before.unit and after.disputed  # no second dispute, no return
    if isinstance(action, Return):
        assert not before.disputed
    if isinstance(action, LeadClosed):
        assert action.lead == before.merged_into
    if isinstance(action, RecordSurvey) and after.state == S.REOPENED:
        assert action.needs_redo and after.reopen_count == before.reopen_count + 1
        assert after.unit == before.unit and after.survey_attempts == 0
    if isinstance(action, RecordSurvey) and after.state == S.CALLBACK_DONE:
        assert (after.survey_outcome, after.survey_solved) == (action.outcome, action.solved)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), rules=rules_strategy)
def test_random_sequences_stay_legal_and_rebuild(data: st.DataObject, rules: Rules) -> None:
    initial = data.draw(st.sampled_from(sorted(INITIAL_STATES)), label="initial")
    snap, events = TicketSnapshot(state=initial), list[TransitionEvent]()
    steps = data.draw(st.integers(min_value=0, max_value=60), label="steps")
    for _ in range(steps):
        # Mostly actions the table lists for the state (so long lives are explored), sometimes
        # any action at all (so refusals are exercised everywhere).
        listed = sorted(next_actions(snap.state), key=lambda t: t.__name__)
        anything = not listed or data.draw(st.integers(0, 3)) == 0
        pool = list(ACTION_TYPES) if anything else listed
        action = data.draw(ACTIONS[data.draw(st.sampled_from(pool))])
        before = snap
        try:
            snap, event = apply(snap, action, rules)
        except IllegalTransition as exc:
            assert snap is before and snap.state.value in str(exc)
            continue
        assert (event.seq, event.from_state, event.to_state) == (
            len(events) + 1,
            before.state,
            snap.state,
        )
        assert snap.state in ALLOWED[(before.state, type(action))]
        check_step(before, action, snap)
        events.append(event)
        check_invariants(snap, events, rules)
    assert rebuild(events, start=TicketSnapshot(state=initial)) == snap
    if events:  # the log names its initial state; an empty one is the snapshot it started as
        assert rebuild(events) == snap
        assert rebuild(TransitionEvent.from_json(e.to_json()) for e in events) == snap
    if snap.state == S.VOICEMAIL_REVIEW:
        assert initial == S.VOICEMAIL_REVIEW and not events  # nothing leads back to review
