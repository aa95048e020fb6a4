"""The work-order (工单) lifecycle as a pure state machine: no clock, no I/O, no database.

Rules (docs/DOMAIN.md, "The life of a work order"):

0. A voicemail (a message left out of hours) becomes an order in ``voicemail_review``: nobody
   has talked to the caller yet, so a reviewer listens first. ``AcceptVoicemail`` (with the
   description, category or subject corrected where the transcript got them wrong) -> ``created``;
   ``DismissVoicemail`` (reason required: silence, a hang-up, a test call) -> ``archived``.
   Deadlines start only when the order is accepted (they are set by ``Dispatch`` from there).
1. An order is ``created`` at intake (or when its voicemail is accepted). The agent either
   answers it at once (``AnswerDirectly`` -> ``closed_direct``, then ``Archive``) or
   ``Dispatch``es it to a lead unit plus optional co-units (主办/协办). A direct answer is rated
   on the call itself (一次一评), so it has no callback step.
2. The unit signs for it (``SignFor``) or returns it (``Return``, reason required, 退单). A
   returned order has no unit; the dispatcher sends it elsewhere or answers it directly.
3. A signed order is worked on (``StartWork`` -> ``in_progress``). While in progress the unit
   may ask for an extension once at a time (``RequestExtension``); the dispatcher grants (days
   are added to the deadline, at most the days asked) or refuses it; work goes on either way.
   Whether the request came early enough is a deadline question for ``hotline.tickets.workdays``.
4. The unit reports closure (``CloseByUnit``). The platform reviews it (``Review``): approved ->
   ``reviewed``; not approved -> back to ``in_progress`` (the answer was false or incomplete).
5. Every reviewed order gets a callback survey (``RecordSurvey``) -> ``callback_done``:
   * ``satisfied``: only ``Archive`` follows;
   * ``unsatisfied``: a supervisor decides: ``Reopen`` (the unit was at fault: 复办/督办, back
     to the same unit, which may not return it) or ``Archive`` (it was not);
   * ``unreachable``: call again (``RecordSurvey``); after ``Rules.archive_after_unreachable``
     attempts ``Archive`` is allowed too.
   ``Rules.max_reopens`` caps reopening where a city makes the second evaluation final.
6. ``archived`` is final. Anything not in ``TABLE`` raises ``IllegalTransition`` and changes
   nothing (snapshots are immutable; ``apply`` returns a new one).

Each applied action yields one ``TransitionEvent``, the append-only history row.
``rebuild(events)`` folds the rows with the same code ``apply`` uses, so the state rebuilt
from the log always equals the stored snapshot. Creation is not an event: an order starts in
one of ``INITIAL_STATES`` and the first row's ``from_state`` says which. ``rebuild`` does not
re-run guards: the log records what was decided under the rules of its day, and a later rule
change must not make history unreadable.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Literal, TypeAlias

from hotline.tickets.workdays import local_date


class TicketState(enum.StrEnum):
    VOICEMAIL_REVIEW = "voicemail_review"
    CREATED = "created"
    CLOSED_DIRECT = "closed_direct"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    RETURNED = "returned"
    IN_PROGRESS = "in_progress"
    EXTENSION_REQUESTED = "extension_requested"
    CLOSED_BY_UNIT = "closed_by_unit"
    REVIEWED = "reviewed"
    CALLBACK_DONE = "callback_done"
    REOPENED = "reopened"
    ARCHIVED = "archived"


SurveyOutcome: TypeAlias = Literal["satisfied", "unsatisfied", "unreachable"]
SURVEY_OUTCOMES: tuple[SurveyOutcome, ...] = ("satisfied", "unsatisfied", "unreachable")


def _require_text(value: str, what: str) -> None:
    if not value.strip():
        raise ValueError(f"{what} must not be empty")


# --- actions: what someone asks the order to do ---------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Action:
    actor: str
    at: datetime
    note: str = ""

    def __post_init__(self) -> None:
        _require_text(self.actor, "actor")
        local_date(self.at)  # refuses naive datetimes: the log must be unambiguous

    @property
    def name(self) -> str:
        return type(self).__name__

    def data(self) -> dict[str, Any]:
        """The action's own fields as JSON-ready values: the event's data column."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in ("actor", "at", "note"):
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, kw_only=True)
class AnswerDirectly(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class Dispatch(Action):
    unit: str
    co_units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "co_units", tuple(self.co_units))  # a list would be mutable
        _require_text(self.unit, "unit")
        if self.unit in self.co_units or len(set(self.co_units)) != len(self.co_units):
            raise ValueError("co-units must be distinct and must not repeat the lead unit")
        for co in self.co_units:
            _require_text(co, "co-unit")


@dataclass(frozen=True, kw_only=True)
class SignFor(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class Return(Action):
    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.reason, "return reason")  # 退单 without a reason is refused


@dataclass(frozen=True, kw_only=True)
class StartWork(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class RequestExtension(Action):
    days: int
    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.days < 1:
            raise ValueError(f"extension must be at least 1 working day, got {self.days}")
        _require_text(self.reason, "extension reason")


@dataclass(frozen=True, kw_only=True)
class GrantExtension(Action):
    days: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.days < 1:
            raise ValueError(f"granted extension must be at least 1 working day, got {self.days}")


@dataclass(frozen=True, kw_only=True)
class RefuseExtension(Action):
    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.reason, "refusal reason")


@dataclass(frozen=True, kw_only=True)
class CloseByUnit(Action):
    result: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.result, "closure result")


@dataclass(frozen=True, kw_only=True)
class Review(Action):
    approved: bool


@dataclass(frozen=True, kw_only=True)
class RecordSurvey(Action):
    outcome: SurveyOutcome

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.outcome not in SURVEY_OUTCOMES:
            raise ValueError(f"survey outcome {self.outcome!r} is not one of {SURVEY_OUTCOMES}")


@dataclass(frozen=True, kw_only=True)
class Reopen(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class Archive(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class AcceptVoicemail(Action):
    """The reviewer heard the message: it becomes an ordinary order. Empty fields keep what
    intake wrote; the service checks the corrections (category, subject tree, length)."""

    description: str = ""
    category: str = ""
    subject_code: str = ""


@dataclass(frozen=True, kw_only=True)
class DismissVoicemail(Action):
    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.reason, "dismissal reason")  # a message is never dropped silently


ACTION_TYPES: tuple[type[Action], ...] = (
    AnswerDirectly, Dispatch, SignFor, Return, StartWork, RequestExtension, GrantExtension,
    RefuseExtension, CloseByUnit, Review, RecordSurvey, Reopen, Archive, AcceptVoicemail,
    DismissVoicemail,
)  # fmt: skip
INITIAL_STATES = frozenset({TicketState.CREATED, TicketState.VOICEMAIL_REVIEW})


# --- snapshot, event, rules ------------------------------------------------------------------


@dataclass(frozen=True)
class TicketSnapshot:
    state: TicketState = TicketState.CREATED
    unit: str | None = None
    co_units: tuple[str, ...] = ()
    extension_days: int = 0  # working days granted in total, added to the reply deadline
    pending_extension_days: int = 0  # asked for, not yet decided
    survey_attempts: int = 0  # callback attempts since the last closure
    survey_outcome: SurveyOutcome | None = None  # latest attempt since the last closure
    reopen_count: int = 0
    last_event_seq: int = 0


@dataclass(frozen=True)
class TransitionEvent:
    seq: int
    actor: str
    at: datetime
    from_state: TicketState
    to_state: TicketState
    action: str
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "actor": self.actor, "at": self.at.isoformat(),
            "from_state": self.from_state.value, "to_state": self.to_state.value,
            "action": self.action, "note": self.note, "data": dict(self.data),
        }  # fmt: skip

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> TransitionEvent:
        return cls(
            seq=int(row["seq"]),
            actor=str(row["actor"]),
            at=datetime.fromisoformat(row["at"]),
            from_state=TicketState(row["from_state"]),
            to_state=TicketState(row["to_state"]),
            action=str(row["action"]),
            note=str(row.get("note", "")),
            data=dict(row.get("data", {})),
        )


@dataclass(frozen=True)
class Rules:
    """The city-dependent knobs of the lifecycle."""

    archive_after_unreachable: int = 3  # callback attempts before "unreachable" may be archived
    max_reopens: int | None = None  # None: no cap; 1: the second evaluation is final


DEFAULT_RULES = Rules()


class IllegalTransition(ValueError):
    def __init__(self, state: TicketState, action: Action | str, why: str = "") -> None:
        self.state = state
        self.action = action if isinstance(action, str) else action.name
        message = f"{self.action} is not allowed in state {state.value}"
        super().__init__(f"{message}: {why}" if why else message)


class CorruptEventLog(ValueError):
    """Events that do not chain: a gap in seq, or a from_state that is not the current state."""


# --- the transition table --------------------------------------------------------------------

Guard: TypeAlias = Callable[[TicketSnapshot, Action, Rules], TicketState]


def _review(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    assert isinstance(action, Review)
    return TicketState.REVIEWED if action.approved else TicketState.IN_PROGRESS


def _grant(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    assert isinstance(action, GrantExtension)
    if action.days > snap.pending_extension_days:
        why = f"grants {action.days} days, only {snap.pending_extension_days} were asked for"
        raise IllegalTransition(snap.state, action, why)
    return TicketState.IN_PROGRESS


def _survey_again(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.survey_outcome != "unreachable":
        raise IllegalTransition(snap.state, action, f"survey already {snap.survey_outcome}")
    return TicketState.CALLBACK_DONE


def _reopen(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.survey_outcome != "unsatisfied":
        raise IllegalTransition(snap.state, action, f"survey was {snap.survey_outcome}")
    if rules.max_reopens is not None and snap.reopen_count >= rules.max_reopens:
        why = f"already reopened {snap.reopen_count} times (limit {rules.max_reopens})"
        raise IllegalTransition(snap.state, action, why)
    return TicketState.REOPENED


def _archive_after_callback(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.survey_outcome == "unreachable":
        if snap.survey_attempts < rules.archive_after_unreachable:
            why = (
                f"citizen unreachable after {snap.survey_attempts} of "
                f"{rules.archive_after_unreachable} callback attempts"
            )
            raise IllegalTransition(snap.state, action, why)
    return TicketState.ARCHIVED


S = TicketState
TABLE: dict[tuple[TicketState, type[Action]], TicketState | Guard] = {
    (S.VOICEMAIL_REVIEW, AcceptVoicemail): S.CREATED,
    (S.VOICEMAIL_REVIEW, DismissVoicemail): S.ARCHIVED,
    (S.CREATED, AnswerDirectly): S.CLOSED_DIRECT,
    (S.CREATED, Dispatch): S.DISPATCHED,
    (S.CLOSED_DIRECT, Archive): S.ARCHIVED,
    (S.DISPATCHED, SignFor): S.SIGNED,
    (S.DISPATCHED, Return): S.RETURNED,
    (S.RETURNED, Dispatch): S.DISPATCHED,
    (S.RETURNED, AnswerDirectly): S.CLOSED_DIRECT,
    (S.SIGNED, StartWork): S.IN_PROGRESS,
    (S.IN_PROGRESS, RequestExtension): S.EXTENSION_REQUESTED,
    (S.IN_PROGRESS, CloseByUnit): S.CLOSED_BY_UNIT,
    (S.EXTENSION_REQUESTED, GrantExtension): _grant,
    (S.EXTENSION_REQUESTED, RefuseExtension): S.IN_PROGRESS,
    (S.CLOSED_BY_UNIT, Review): _review,
    (S.REVIEWED, RecordSurvey): S.CALLBACK_DONE,
    (S.CALLBACK_DONE, RecordSurvey): _survey_again,
    (S.CALLBACK_DONE, Reopen): _reopen,
    (S.CALLBACK_DONE, Archive): _archive_after_callback,
    (S.REOPENED, StartWork): S.IN_PROGRESS,
}
del S


def next_actions(state: TicketState) -> frozenset[type[Action]]:
    """Action types the table lists for a state (a guard may still refuse one)."""
    return frozenset(action for (s, action) in TABLE if s == state)


# --- applying and folding ---------------------------------------------------------------------


def _fold(snap: TicketSnapshot, action: str, data: Mapping[str, Any]) -> TicketSnapshot:
    """The snapshot fields an action changes, from its event data; shared by apply and rebuild."""
    if action == "Dispatch":
        return replace(snap, unit=str(data["unit"]), co_units=tuple(data.get("co_units", ())))
    if action == "Return":
        return replace(snap, unit=None, co_units=())  # the unit is no longer responsible
    if action == "RequestExtension":
        return replace(snap, pending_extension_days=int(data["days"]))
    if action == "GrantExtension":
        days = snap.extension_days + int(data["days"])
        return replace(snap, extension_days=days, pending_extension_days=0)
    if action == "RefuseExtension":
        return replace(snap, pending_extension_days=0)
    if action == "RecordSurvey":
        outcome: SurveyOutcome = data["outcome"]
        return replace(snap, survey_attempts=snap.survey_attempts + 1, survey_outcome=outcome)
    if action == "Reopen":
        # A new closure gets a fresh survey: attempts count per closure, not per order.
        return replace(
            snap, reopen_count=snap.reopen_count + 1, survey_attempts=0, survey_outcome=None
        )
    return snap


def apply(
    snap: TicketSnapshot, action: Action, rules: Rules = DEFAULT_RULES
) -> tuple[TicketSnapshot, TransitionEvent]:
    """The next snapshot and the event row to append; IllegalTransition changes nothing."""
    rule = TABLE.get((snap.state, type(action)))
    if rule is None:
        raise IllegalTransition(snap.state, action)
    target = rule if isinstance(rule, TicketState) else rule(snap, action, rules)
    event = TransitionEvent(
        seq=snap.last_event_seq + 1,
        actor=action.actor,
        at=action.at,
        from_state=snap.state,
        to_state=target,
        action=action.name,
        note=action.note,
        data=action.data(),
    )
    return _step(snap, event), event


def _step(snap: TicketSnapshot, event: TransitionEvent) -> TicketSnapshot:
    folded = _fold(snap, event.action, event.data)
    return replace(folded, state=event.to_state, last_event_seq=event.seq)


DEADLINE_RECOMPUTED = "DeadlineRecomputed"
"""A bookkeeping row: deadlines recomputed when the official calendar arrived. It changes no
state (from_state == to_state) and folds to the same snapshot, so rebuild() accepts it."""


def bookkeeping_event(
    snap: TicketSnapshot,
    *,
    action: str,
    actor: str,
    at: datetime,
    note: str,
    data: Mapping[str, Any],
) -> tuple[TicketSnapshot, TransitionEvent]:
    """An event row that records a fact without a transition (the state stays)."""
    event = TransitionEvent(
        seq=snap.last_event_seq + 1, actor=actor, at=at, from_state=snap.state,
        to_state=snap.state, action=action, note=note, data=dict(data),
    )  # fmt: skip
    return _step(snap, event), event


def rebuild(
    events: Iterable[TransitionEvent], start: TicketSnapshot | None = None
) -> TicketSnapshot:
    """Fold the event log (oldest first) into the snapshot it produced; without ``start`` the
    log begins at seq 1 in the initial state its first row names (an empty log: ``created``)."""
    snap = start
    for event in events:
        if snap is None:
            initial = event.from_state if event.from_state in INITIAL_STATES else None
            snap = TicketSnapshot(state=initial or TicketState.CREATED)
        if event.seq != snap.last_event_seq + 1:
            raise CorruptEventLog(f"event seq {event.seq} after {snap.last_event_seq}")
        if event.from_state != snap.state:
            raise CorruptEventLog(
                f"event {event.seq} ({event.action}) starts in {event.from_state.value} "
                f"but the ticket is {snap.state.value}"
            )
        snap = _step(snap, event)
    return snap if snap is not None else TicketSnapshot()
