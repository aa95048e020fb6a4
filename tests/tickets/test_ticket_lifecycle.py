from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypedDict

import pytest

from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets.lifecycle import (
    ACTION_TYPES,
    DEFAULT_RULES,
    INITIAL_STATES,
    TABLE,
    AcceptVoicemail,
    Action,
    AnswerDirectly,
    Archive,
    CloseByUnit,
    ConfirmDispatch,
    CorruptEventLog,
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
    TicketSnapshot,
    TicketState,
    TransitionEvent,
    apply,
    next_actions,
    rebuild,
)

pytestmark = pytest.mark.calendar  # issue 12: also run in 2027 and 2028 (make test-years)

S = TicketState
T0 = datetime(2026, 9, 30, 10, 0, tzinfo=CENTRE_TZ)


class _Who(TypedDict):
    actor: str
    at: datetime


AT: _Who = {"actor": "agent-7", "at": T0}

# One valid instance of every action type; guarded entries get their passing variant.
EXAMPLE: dict[type[Action], Action] = {
    AnswerDirectly: AnswerDirectly(**AT),
    Dispatch: Dispatch(**AT, unit="water-company", co_units=("district-a",)),
    SignFor: SignFor(**AT),
    Return: Return(**AT, reason="not our responsibility: private property"),
    StartWork: StartWork(**AT),
    RequestExtension: RequestExtension(**AT, days=5, reason="parts on order"),
    GrantExtension: GrantExtension(**AT, days=3),
    RefuseExtension: RefuseExtension(**AT, reason="no reason to wait"),
    CloseByUnit: CloseByUnit(**AT, result="pipe repaired"),
    Review: Review(**AT, approved=True),
    RecordSurvey: RecordSurvey(**AT, outcome="satisfied"),
    Reopen: Reopen(**AT),
    Archive: Archive(**AT),
    AcceptVoicemail: AcceptVoicemail(**AT),
    DismissVoicemail: DismissVoicemail(**AT, reason="silence: the caller hung up"),
    Dispute: Dispute(**AT, reason="the pipe belongs to the estate", proposed_unit="housing"),
    Redispatch: Redispatch(**AT, unit="housing-bureau"),
    ConfirmDispatch: ConfirmDispatch(**AT, reason="the main is the company's"),
    MergeInto: MergeInto(**AT, lead="202609300001"),
    LeadClosed: LeadClosed(**AT, lead="202609300001", result="pipe repaired"),
    InformCaller: InformCaller(**AT, reached=True),
}
# The supervisor decides after an unsatisfied survey (the pre-2025 rule, still configurable).
MANUAL = Rules(redo_after_unsatisfied=False)
VOICEMAIL = TicketSnapshot(state=S.VOICEMAIL_REVIEW)  # how a left message starts


def survey(outcome: str) -> RecordSurvey:
    return RecordSurvey(**AT, outcome=outcome)  # type: ignore[arg-type]


TO_IN_PROGRESS = [EXAMPLE[Dispatch], EXAMPLE[SignFor], EXAMPLE[StartWork]]
TO_REVIEWED = [*TO_IN_PROGRESS, EXAMPLE[CloseByUnit], EXAMPLE[Review]]

# (state, action type) -> (actions that reach the state, the action, expected target)
CASES: dict[tuple[TicketState, type[Action]], tuple[list[Action], Action, TicketState]] = {
    (S.CREATED, AnswerDirectly): ([], EXAMPLE[AnswerDirectly], S.CLOSED_DIRECT),
    (S.CREATED, Dispatch): ([], EXAMPLE[Dispatch], S.DISPATCHED),
    (S.CLOSED_DIRECT, Archive): ([EXAMPLE[AnswerDirectly]], EXAMPLE[Archive], S.ARCHIVED),
    (S.DISPATCHED, SignFor): ([EXAMPLE[Dispatch]], EXAMPLE[SignFor], S.SIGNED),
    (S.DISPATCHED, Return): ([EXAMPLE[Dispatch]], EXAMPLE[Return], S.RETURNED),
    (S.RETURNED, Dispatch): (
        [EXAMPLE[Dispatch], EXAMPLE[Return]],
        Dispatch(**AT, unit="housing-bureau"),
        S.DISPATCHED,
    ),
    (S.RETURNED, AnswerDirectly): (
        [EXAMPLE[Dispatch], EXAMPLE[Return]],
        EXAMPLE[AnswerDirectly],
        S.CLOSED_DIRECT,
    ),
    (S.SIGNED, StartWork): (TO_IN_PROGRESS[:2], EXAMPLE[StartWork], S.IN_PROGRESS),
    (S.IN_PROGRESS, RequestExtension): (
        TO_IN_PROGRESS,
        EXAMPLE[RequestExtension],
        S.EXTENSION_REQUESTED,
    ),
    (S.IN_PROGRESS, CloseByUnit): (TO_IN_PROGRESS, EXAMPLE[CloseByUnit], S.CLOSED_BY_UNIT),
    (S.EXTENSION_REQUESTED, GrantExtension): (
        [*TO_IN_PROGRESS, EXAMPLE[RequestExtension]],
        EXAMPLE[GrantExtension],
        S.IN_PROGRESS,
    ),
    (S.EXTENSION_REQUESTED, RefuseExtension): (
        [*TO_IN_PROGRESS, EXAMPLE[RequestExtension]],
        EXAMPLE[RefuseExtension],
        S.IN_PROGRESS,
    ),
    (S.CLOSED_BY_UNIT, Review): (TO_REVIEWED[:-1], EXAMPLE[Review], S.REVIEWED),
    (S.REVIEWED, RecordSurvey): (TO_REVIEWED, EXAMPLE[RecordSurvey], S.CALLBACK_DONE),
    (S.CALLBACK_DONE, RecordSurvey): (
        [*TO_REVIEWED, survey("unreachable")],
        survey("satisfied"),
        S.CALLBACK_DONE,
    ),
    (S.CALLBACK_DONE, Reopen): (
        [*TO_REVIEWED, survey("unsatisfied")],
        EXAMPLE[Reopen],
        S.REOPENED,
    ),  # under MANUAL (CASE_RULES)
    (S.CALLBACK_DONE, Archive): ([*TO_REVIEWED, survey("satisfied")], EXAMPLE[Archive], S.ARCHIVED),
    (S.REOPENED, StartWork): (
        [*TO_REVIEWED, survey("unsatisfied")],  # redo under supervision at once
        EXAMPLE[StartWork],
        S.IN_PROGRESS,
    ),
    (S.DISPATCHED, Dispute): ([EXAMPLE[Dispatch]], EXAMPLE[Dispute], S.DISPUTED),
    (S.DISPUTED, Redispatch): (
        [EXAMPLE[Dispatch], EXAMPLE[Dispute]],
        EXAMPLE[Redispatch],
        S.DISPATCHED,
    ),
    (S.DISPUTED, ConfirmDispatch): (
        [EXAMPLE[Dispatch], EXAMPLE[Dispute]],
        EXAMPLE[ConfirmDispatch],
        S.DISPATCHED,
    ),
    (S.CREATED, MergeInto): ([], EXAMPLE[MergeInto], S.MERGED),
    (S.RETURNED, MergeInto): ([EXAMPLE[Dispatch], EXAMPLE[Return]], EXAMPLE[MergeInto], S.MERGED),
    (S.DISPATCHED, MergeInto): ([EXAMPLE[Dispatch]], EXAMPLE[MergeInto], S.MERGED),
    (S.DISPUTED, MergeInto): (
        [EXAMPLE[Dispatch], EXAMPLE[Dispute]],
        EXAMPLE[MergeInto],
        S.MERGED,
    ),
    (S.MERGED, LeadClosed): ([EXAMPLE[MergeInto]], EXAMPLE[LeadClosed], S.INFORM_PENDING),
    (S.INFORM_PENDING, InformCaller): (
        [EXAMPLE[MergeInto], EXAMPLE[LeadClosed]],
        EXAMPLE[InformCaller],
        S.ARCHIVED,
    ),
    (S.INFORM_PENDING, Archive): (
        [EXAMPLE[MergeInto], EXAMPLE[LeadClosed], *[InformCaller(**AT, reached=False)] * 3],
        EXAMPLE[Archive],
        S.ARCHIVED,
    ),
    # Paths of these two start in voicemail_review (start_of), not created.
    (S.VOICEMAIL_REVIEW, AcceptVoicemail): ([], EXAMPLE[AcceptVoicemail], S.CREATED),
    (S.VOICEMAIL_REVIEW, DismissVoicemail): ([], EXAMPLE[DismissVoicemail], S.ARCHIVED),
}


CASE_RULES: dict[tuple[TicketState, type[Action]], Rules] = {(S.CALLBACK_DONE, Reopen): MANUAL}


def start_of(state: TicketState) -> TicketSnapshot | None:
    return VOICEMAIL if state is S.VOICEMAIL_REVIEW else None


def run(
    actions: Sequence[Action],
    rules: Rules = DEFAULT_RULES,
    start: TicketSnapshot | None = None,
) -> tuple[TicketSnapshot, list[TransitionEvent]]:
    snap, events = start or TicketSnapshot(), []
    for action in actions:
        snap, event = apply(snap, action, rules)
        events.append(event)
    return snap, events


def test_cases_cover_the_whole_table() -> None:
    assert set(CASES) == set(TABLE)


@pytest.mark.parametrize("key", list(CASES), ids=lambda k: f"{k[0].value}-{k[1].__name__}")
def test_every_table_entry(key: tuple[TicketState, type[Action]]) -> None:
    path, action, target = CASES[key]
    rules = CASE_RULES.get(key, DEFAULT_RULES)
    before, events = run(path, rules, start=start_of(key[0]))
    assert before.state == key[0]
    after, event = apply(before, action, rules)
    assert after.state == target
    assert after.last_event_seq == before.last_event_seq + 1 == event.seq
    assert (event.from_state, event.to_state, event.action) == (key[0], target, key[1].__name__)
    assert (event.actor, event.at, event.note) == (action.actor, action.at, action.note)
    assert rebuild([*events, event]) == after


def reach(state: TicketState) -> TicketSnapshot:
    if state in INITIAL_STATES:
        return start_of(state) or TicketSnapshot()
    for (source, kind), (path, action, target) in CASES.items():
        if target == state:
            rules = CASE_RULES.get((source, kind), DEFAULT_RULES)
            return run([*path, action], rules, start=start_of(source))[0]
    raise AssertionError(f"no case reaches {state}")


@pytest.mark.parametrize("state", list(TicketState), ids=lambda s: s.value)
def test_actions_outside_the_table_are_refused_and_change_nothing(state: TicketState) -> None:
    snap = reach(state)
    assert snap.state == state
    frozen = copy.deepcopy(snap)
    refused = [t for t in ACTION_TYPES if t not in next_actions(state)]
    assert refused, "every state refuses something"
    for action_type in refused:
        with pytest.raises(IllegalTransition) as info:
            apply(snap, EXAMPLE[action_type])
        assert state.value in str(info.value) and action_type.__name__ in str(info.value)
        assert info.value.state == state and info.value.action == action_type.__name__
    assert snap == frozen


def test_archived_is_final() -> None:
    assert next_actions(S.ARCHIVED) == frozenset()


def test_review_not_approved_goes_back_to_work() -> None:
    snap, _ = run([*TO_REVIEWED[:-1], Review(**AT, approved=False, note="answer is false")])
    assert snap.state == S.IN_PROGRESS


def test_dispatch_and_return_set_and_clear_the_units() -> None:
    snap, _ = run([EXAMPLE[Dispatch]])
    assert (snap.unit, snap.co_units) == ("water-company", ("district-a",))
    snap, _ = run([EXAMPLE[Dispatch], EXAMPLE[Return]])
    assert (snap.unit, snap.co_units) == (None, ())


def test_extensions_accumulate_and_cannot_exceed_the_request() -> None:
    ask = EXAMPLE[RequestExtension]  # 5 days
    snap, _ = run([*TO_IN_PROGRESS, ask, GrantExtension(**AT, days=5), ask])
    assert (snap.extension_days, snap.pending_extension_days) == (5, 5)
    with pytest.raises(IllegalTransition, match="only 5 were asked"):
        apply(snap, GrantExtension(**AT, days=6))
    snap, _ = apply(snap, GrantExtension(**AT, days=2))
    assert (snap.extension_days, snap.pending_extension_days) == (7, 0)
    snap, _ = run([*TO_IN_PROGRESS, ask, EXAMPLE[RefuseExtension]])
    assert (snap.extension_days, snap.pending_extension_days) == (0, 0)


def test_survey_guards() -> None:
    done, _ = run([*TO_REVIEWED, survey("satisfied")])
    with pytest.raises(IllegalTransition, match="survey already satisfied"):
        apply(done, survey("unsatisfied"))
    with pytest.raises(IllegalTransition, match="survey was satisfied"):
        apply(done, EXAMPLE[Reopen])
    unhappy, _ = run([*TO_REVIEWED, survey("unsatisfied")], MANUAL)
    # The supervisor may find the unit not at fault and archive.
    assert apply(unhappy, EXAMPLE[Archive])[0].state == S.ARCHIVED


def test_unreachable_citizen_may_be_archived_after_n_attempts() -> None:
    rules = Rules(archive_after_unreachable=3)
    snap, _ = run([*TO_REVIEWED, survey("unreachable"), survey("unreachable")], rules)
    assert snap.survey_attempts == 2
    with pytest.raises(IllegalTransition, match="2 of 3"):
        apply(snap, EXAMPLE[Archive], rules)
    with pytest.raises(IllegalTransition):
        apply(snap, EXAMPLE[Reopen], rules)
    snap, _ = apply(snap, survey("unreachable"), rules)
    assert apply(snap, EXAMPLE[Archive], rules)[0].state == S.ARCHIVED


def test_reopen_goes_back_to_the_same_unit_and_restarts_the_survey() -> None:
    snap, _ = run([*TO_REVIEWED, survey("unreachable"), survey("unsatisfied")])
    assert (snap.state, snap.unit, snap.reopen_count) == (S.REOPENED, "water-company", 1)
    assert (snap.survey_attempts, snap.survey_outcome) == (0, None)
    with pytest.raises(IllegalTransition):
        apply(snap, EXAMPLE[Return])  # a supervised redo cannot be returned


def test_reopen_limit() -> None:
    rules = Rules(max_reopens=1)
    again = [EXAMPLE[StartWork], EXAMPLE[CloseByUnit], EXAMPLE[Review], survey("unsatisfied")]
    snap, _ = run([*TO_REVIEWED, survey("unsatisfied"), *again], rules)
    # The second evaluation is final: it stops in callback_done for the supervisor.
    assert (snap.state, snap.survey_outcome, snap.reopen_count) == (
        S.CALLBACK_DONE,
        "unsatisfied",
        1,
    )
    with pytest.raises(IllegalTransition, match="limit 1"):
        apply(snap, EXAMPLE[Reopen], rules)
    assert apply(snap, EXAMPLE[Archive], rules)[0].state == S.ARCHIVED


def test_rebuild_equals_stored_through_json() -> None:
    actions: list[Action] = [
        EXAMPLE[Dispatch],
        EXAMPLE[Return],
        Dispatch(**AT, unit="housing-bureau", co_units=("district-a", "district-b")),
        EXAMPLE[SignFor],
        EXAMPLE[StartWork],
        EXAMPLE[RequestExtension],
        EXAMPLE[GrantExtension],
        EXAMPLE[CloseByUnit],
        Review(**AT, approved=False),
        EXAMPLE[CloseByUnit],
        EXAMPLE[Review],
        survey("unsatisfied"),
        EXAMPLE[StartWork],
        EXAMPLE[CloseByUnit],
        EXAMPLE[Review],
        survey("satisfied"),
        EXAMPLE[Archive],
    ]
    stored, events = run(actions)
    assert [e.seq for e in events] == list(range(1, len(actions) + 1))
    rows = [e.to_json() for e in events]
    assert rebuild(TransitionEvent.from_json(r) for r in rows) == stored
    assert stored.co_units == ("district-a", "district-b") and stored.extension_days == 3
    # Rebuilding from a snapshot plus the newer events gives the same result.
    middle = rebuild(events[:7])
    assert rebuild(events[7:], start=middle) == stored


def test_corrupt_logs_are_refused() -> None:
    _, events = run(TO_REVIEWED)
    with pytest.raises(CorruptEventLog, match="seq"):
        rebuild([events[0], events[2]])
    wrong_state = TransitionEvent(
        seq=2, actor="x", at=T0, from_state=S.REVIEWED, to_state=S.ARCHIVED, action="Archive"
    )
    with pytest.raises(CorruptEventLog, match="dispatched"):
        rebuild([events[0], wrong_state])


def test_actions_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="reason"):
        Return(**AT, reason="  ")
    with pytest.raises(ValueError, match="naive"):
        SignFor(actor="a", at=datetime(2026, 9, 30, 10))
    with pytest.raises(ValueError, match="actor"):
        SignFor(actor="", at=T0)
    with pytest.raises(ValueError, match="co-units"):
        Dispatch(**AT, unit="u", co_units=("u",))
    with pytest.raises(ValueError, match="outcome"):
        survey("happy")
    with pytest.raises(ValueError):
        RequestExtension(**AT, days=0, reason="x")
    with pytest.raises(ValueError):
        GrantExtension(**AT, days=0)
    with pytest.raises(ValueError):
        CloseByUnit(**AT, result="")
    with pytest.raises(ValueError):
        RefuseExtension(**AT, reason="")


def test_event_carries_the_action_data() -> None:
    _, event = apply(TicketSnapshot(), EXAMPLE[Dispatch])
    assert event.data == {"unit": "water-company", "co_units": ["district-a"], "return_due": None}
    later = T0 + timedelta(hours=1)
    _, event = apply(TicketSnapshot(), AnswerDirectly(actor="a", at=later, note="from KB 1234"))
    assert (event.at, event.note, event.data) == (later, "from KB 1234", {})


# --- voicemail awaiting review (rule 0) ------------------------------------------------------


def test_an_accepted_voicemail_follows_the_normal_lifecycle() -> None:
    accept = AcceptVoicemail(**AT, description="停水三天了", category="help", subject_code="02.01")
    snap, events = run(
        [accept, *TO_REVIEWED, survey("satisfied"), EXAMPLE[Archive]], start=VOICEMAIL
    )
    assert snap.state == S.ARCHIVED
    assert (events[0].from_state, events[0].to_state) == (S.VOICEMAIL_REVIEW, S.CREATED)
    assert events[0].data == {
        "description": "停水三天了",
        "category": "help",
        "subject_code": "02.01",
    }
    # The log alone says where the order started: no start snapshot needed.
    assert rebuild(TransitionEvent.from_json(e.to_json()) for e in events) == snap
    answered, _ = run([accept, EXAMPLE[AnswerDirectly]], start=VOICEMAIL)
    assert answered.state == S.CLOSED_DIRECT


def test_a_dismissed_voicemail_is_archived_with_its_reason() -> None:
    snap, events = run([EXAMPLE[DismissVoicemail]], start=VOICEMAIL)
    assert snap.state == S.ARCHIVED and snap.unit is None
    assert events[0].data == {"reason": "silence: the caller hung up"}
    assert rebuild(events) == snap
    with pytest.raises(ValueError, match="dismissal reason"):
        DismissVoicemail(**AT, reason=" ")


def test_a_voicemail_under_review_cannot_be_worked_on() -> None:
    assert next_actions(S.VOICEMAIL_REVIEW) == {AcceptVoicemail, DismissVoicemail}
    for action in (EXAMPLE[Dispatch], EXAMPLE[AnswerDirectly], EXAMPLE[Archive]):
        with pytest.raises(IllegalTransition, match="voicemail_review"):
            apply(VOICEMAIL, action)
    with pytest.raises(IllegalTransition, match="created"):
        apply(TicketSnapshot(), EXAMPLE[AcceptVoicemail])  # only a voicemail is accepted


def test_rebuild_of_an_empty_log_is_created() -> None:
    assert rebuild([]) == TicketSnapshot()
    assert rebuild([], start=VOICEMAIL) == VOICEMAIL
