"""Random action sequences: no illegal state is ever reached, and the log rebuilds the ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.tickets.lifecycle import (
    ACTION_TYPES,
    INITIAL_STATES,
    TABLE,
    AcceptVoicemail,
    Action,
    AnswerDirectly,
    Archive,
    CloseByUnit,
    DismissVoicemail,
    Dispatch,
    GrantExtension,
    IllegalTransition,
    RecordSurvey,
    RefuseExtension,
    Reopen,
    RequestExtension,
    Return,
    Review,
    Rules,
    SignFor,
    StartWork,
    TicketSnapshot,
    TicketState,
    TransitionEvent,
    apply,
    next_actions,
    rebuild,
)
from hotline.tickets.workdays import SHANGHAI

S = TicketState
UNITS = ("water-company", "housing-bureau", "district-a", "district-b")
HAS_UNIT = {
    S.DISPATCHED, S.SIGNED, S.IN_PROGRESS, S.EXTENSION_REQUESTED, S.CLOSED_BY_UNIT,
    S.REVIEWED, S.CALLBACK_DONE, S.REOPENED,
}  # fmt: skip
NO_UNIT = {S.VOICEMAIL_REVIEW, S.CREATED, S.RETURNED, S.CLOSED_DIRECT}
# Where each table entry may lead: its fixed target, or the targets its guard can choose.
GUARD_TARGETS = {
    (S.EXTENSION_REQUESTED, GrantExtension): {S.IN_PROGRESS},
    (S.CLOSED_BY_UNIT, Review): {S.REVIEWED, S.IN_PROGRESS},
    (S.CALLBACK_DONE, RecordSurvey): {S.CALLBACK_DONE},
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
        timezones=st.just(SHANGHAI),
    ),
    "note": st.text(max_size=5),
}
text = st.text(min_size=1, max_size=8).filter(str.strip)
days = st.integers(min_value=1, max_value=10)


@st.composite
def dispatches(draw: st.DrawFn) -> Dispatch:
    unit = draw(st.sampled_from(UNITS))
    others = [u for u in UNITS if u != unit]
    co = draw(st.lists(st.sampled_from(others), unique=True, max_size=2))
    return Dispatch(actor=draw(who["actor"]), at=draw(who["at"]), unit=unit, co_units=tuple(co))


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
    RecordSurvey: st.builds(
        RecordSurvey, **who, outcome=st.sampled_from(("satisfied", "unsatisfied", "unreachable"))
    ),
    Reopen: st.builds(Reopen, **who),
    Archive: st.builds(Archive, **who),
    AcceptVoicemail: st.builds(
        AcceptVoicemail, **who, description=st.text(max_size=8), category=st.just("")
    ),
    DismissVoicemail: st.builds(DismissVoicemail, **who, reason=text),
}
rules_strategy = st.builds(
    Rules,
    archive_after_unreachable=st.integers(min_value=1, max_value=4),
    max_reopens=st.none() | st.integers(min_value=0, max_value=2),
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
        events.append(event)
        check_invariants(snap, events, rules)
    assert rebuild(events, start=TicketSnapshot(state=initial)) == snap
    if events:  # the log names its initial state; an empty one is the snapshot it started as
        assert rebuild(events) == snap
        assert rebuild(TransitionEvent.from_json(e.to_json()) for e in events) == snap
    if snap.state == S.VOICEMAIL_REVIEW:
        assert initial == S.VOICEMAIL_REVIEW and not events  # nothing leads back to review
