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
   Instead of returning it, the unit may dispute the dispatch (``Dispute``, 派单异议, reason
   required) within the return window (``Dispatch.return_due``, working days counted by the
   service when it dispatched): the order stays with the unit in ``disputed`` until the
   dispatcher reviews it: ``Redispatch`` (改派) to another lead unit (a fresh dispatch, fresh
   window) or ``ConfirmDispatch`` (维持原派单, reason required) -> ``dispatched`` again, and the
   unit may then neither dispute it again nor return it. One dispute per dispatch.
2a. Merging (并单): an order about a matter another open order already covers is merged into
   that lead order (``MergeInto``) from ``created``, ``returned``, ``dispatched`` or
   ``disputed`` -> ``merged`` (no unit; the caller stays on the merged order). When the lead
   order closes, every order merged into it gets ``LeadClosed`` (the lead's result) ->
   ``inform_pending``; its caller is told the result (``InformCaller``, by a person or the
   automated survey call): reached -> ``archived``; not reached -> stays, and after
   ``Rules.archive_after_unreachable`` attempts ``Archive`` is allowed. The matter is rated
   once, on the lead order (一事一评).
3. A signed order is worked on (``StartWork`` -> ``in_progress``). While in progress the unit
   may ask for an extension once at a time (``RequestExtension``); the dispatcher grants (days
   are added to the deadline, at most the days asked) or refuses it; work goes on either way.
   Whether the request came early enough is a deadline question for ``hotline.tickets.workdays``.
4. The unit reports closure (``CloseByUnit``). The platform reviews it (``Review``): approved ->
   ``reviewed``; not approved -> back to ``in_progress`` (the answer was false or incomplete).
5. Every reviewed order gets a callback survey (``RecordSurvey``, 回访), by a person
   (``method="human"``) or by the engine's outbound IVR call (``method="automated"``). The
   citizen answers satisfied / basically satisfied / unsatisfied (``outcome``) and whether the
   matter was solved (``solved``; an automated survey always asks it, a human one may leave it
   unknown):
   * unsatisfied, or not solved: redo under supervision (复办/督办): straight to ``reopened``
     (back to the same unit, which may not return it; the service issues the notice) while
     ``Rules.redo_after_unsatisfied``; otherwise, or once ``Rules.max_reopens`` is reached (the
     second evaluation is final), -> ``callback_done`` and a supervisor decides: ``Reopen``
     (the unit was at fault) or ``Archive`` (it was not);
   * satisfied or basically satisfied, and solved (or not asked): ``callback_done``, only
     ``Archive`` follows;
   * ``unreachable``: -> ``callback_done``; call again (``RecordSurvey``); after
     ``Rules.archive_after_unreachable`` attempts ``Archive`` is allowed too.
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
    DISPUTED = "disputed"
    MERGED = "merged"
    INFORM_PENDING = "inform_pending"


SurveyOutcome: TypeAlias = Literal["satisfied", "basically_satisfied", "unsatisfied", "unreachable"]
SURVEY_OUTCOMES: tuple[SurveyOutcome, ...] = (
    "satisfied", "basically_satisfied", "unsatisfied", "unreachable",
)  # fmt: skip
SATISFIED_OUTCOMES = frozenset({"satisfied", "basically_satisfied"})  # both count for 满意率
SurveyMethod: TypeAlias = Literal["human", "automated"]
SURVEY_METHODS: tuple[SurveyMethod, ...] = ("human", "automated")


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
                if isinstance(value, tuple):
                    value = list(value)
                elif isinstance(value, datetime):
                    value = value.isoformat()
                out[f.name] = value
        return out


@dataclass(frozen=True, kw_only=True)
class AnswerDirectly(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class Dispatch(Action):
    unit: str
    co_units: tuple[str, ...] = ()
    return_due: datetime | None = None
    """End of the return window (sign for, return or dispute by then); the service counts it
    in working days when it dispatches, so the log keeps the window the unit was given."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.return_due is not None:
            local_date(self.return_due)
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
class Redispatch(Dispatch):
    """改派: after reviewing a dispute, the dispatcher sends the order to another lead unit."""


@dataclass(frozen=True, kw_only=True)
class Dispute(Action):
    """派单异议: the lead unit says the order is not its own, within the return window."""

    reason: str
    proposed_unit: str = ""  # the unit it thinks responsible, if it knows one

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.reason, "dispute reason")


@dataclass(frozen=True, kw_only=True)
class ConfirmDispatch(Action):
    """维持原派单: the dispute is rejected; the unit keeps the order."""

    reason: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.reason, "confirmation reason")


@dataclass(frozen=True, kw_only=True)
class MergeInto(Action):
    """并单: this order's matter is handled on the lead order ``lead`` (a ticket number)."""

    lead: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.lead, "lead ticket")


@dataclass(frozen=True, kw_only=True)
class LeadClosed(Action):
    """The lead order this one was merged into closed with ``result`` (written by the service
    on every merged order, in the lead's closing transaction)."""

    lead: str
    result: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_text(self.lead, "lead ticket")
        _require_text(self.result, "lead result")


@dataclass(frozen=True, kw_only=True)
class InformCaller(Action):
    """The caller of a merged order was told the lead's result (or could not be reached)."""

    reached: bool
    method: SurveyMethod = "human"
    call_id: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.reached, bool):
            raise ValueError("reached must be true or false")
        if self.method not in SURVEY_METHODS:
            raise ValueError(f"method {self.method!r} is not one of {SURVEY_METHODS}")


@dataclass(frozen=True, kw_only=True)
class RecordSurvey(Action):
    """One callback survey attempt (回访). ``solved`` is the citizen's answer to "was the
    matter solved"; None when not asked (a human survey may skip it) or nobody answered."""

    outcome: SurveyOutcome
    solved: bool | None = None
    method: SurveyMethod = "human"
    call_id: str = ""  # the survey call's unique id, for an automated survey

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.outcome not in SURVEY_OUTCOMES:
            raise ValueError(f"survey outcome {self.outcome!r} is not one of {SURVEY_OUTCOMES}")
        if self.method not in SURVEY_METHODS:
            raise ValueError(f"survey method {self.method!r} is not one of {SURVEY_METHODS}")
        if self.solved is not None and not isinstance(self.solved, bool):
            raise ValueError("solved must be true, false or unknown (None)")
        if self.outcome == "unreachable" and self.solved is not None:
            raise ValueError("an unreachable citizen cannot say whether the matter was solved")
        if self.method == "automated" and self.outcome != "unreachable" and self.solved is None:
            raise ValueError("an automated survey asks whether the matter was solved")

    @property
    def needs_redo(self) -> bool:
        """Unsatisfied, or not solved: the unit redoes it under supervision."""
        return self.outcome == "unsatisfied" or self.solved is False


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
    DismissVoicemail, Dispute, Redispatch, ConfirmDispatch, MergeInto, LeadClosed, InformCaller,
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
    survey_solved: bool | None = None  # latest answer to "solved?" since the last closure
    dispute_until: datetime | None = None  # the current dispatch's return window
    disputed: bool = False  # the current dispatch was disputed (and, if dispatched, confirmed)
    merged_into: str | None = None  # the lead order's number


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
    redo_after_unsatisfied: bool = True  # unsatisfied / not solved -> reopened at once


DEFAULT_RULES = Rules()


class IllegalTransition(ValueError):
    """A step the table or a guard refuses. ``code`` and ``params`` let a page say why in the
    reader's language (err_<code> in hotline/base/i18n.py); the message is the English."""

    def __init__(
        self,
        state: TicketState,
        action: Action | str,
        why: str = "",
        *,
        code: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        self.action = action if isinstance(action, str) else action.name
        self.code = code or "transition_state"
        self.params = {"action": self.action, "state": state.value, **(params or {})}
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


def _reopen_limit_reached(snap: TicketSnapshot, rules: Rules) -> bool:
    return rules.max_reopens is not None and snap.reopen_count >= rules.max_reopens


def _survey(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    assert isinstance(action, RecordSurvey)
    if (
        action.needs_redo
        and rules.redo_after_unsatisfied
        and not _reopen_limit_reached(snap, rules)
    ):
        return TicketState.REOPENED  # 复办: the redo under supervision starts now
    return TicketState.CALLBACK_DONE


def _survey_again(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.survey_outcome != "unreachable":
        raise IllegalTransition(snap.state, action, f"survey already {snap.survey_outcome}")
    return _survey(snap, action, rules)


def _reopen(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.survey_outcome != "unsatisfied" and snap.survey_solved is not False:
        raise IllegalTransition(snap.state, action, f"survey was {snap.survey_outcome}")
    if _reopen_limit_reached(snap, rules):
        why = f"already reopened {snap.reopen_count} times (limit {rules.max_reopens})"
        raise IllegalTransition(snap.state, action, why)
    return TicketState.REOPENED


def _unreached(snap: TicketSnapshot, action: Action, rules: Rules, what: str) -> None:
    if snap.survey_attempts < rules.archive_after_unreachable:
        why = (
            f"citizen unreachable after {snap.survey_attempts} of "
            f"{rules.archive_after_unreachable} {what} attempts"
        )
        raise IllegalTransition(snap.state, action, why)


def _archive_after_callback(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.survey_outcome == "unreachable":
        _unreached(snap, action, rules, "callback")
    return TicketState.ARCHIVED


def _archive_uninformed(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    _unreached(snap, action, rules, "inform")
    return TicketState.ARCHIVED


def _return(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.disputed:
        why = "the dispatcher confirmed this dispatch after the unit's dispute"
        raise IllegalTransition(snap.state, action, why, code="dispute_confirmed")
    return TicketState.RETURNED


def _dispute(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    if snap.disputed:
        why = "this dispatch was already disputed and the dispatcher confirmed it"
        raise IllegalTransition(snap.state, action, why, code="dispute_confirmed")
    if snap.dispute_until is not None and action.at > snap.dispute_until:
        until = snap.dispute_until.isoformat()
        why = f"the return window ended at {until}"
        raise IllegalTransition(
            snap.state, action, why, code="dispute_window", params={"until": until}
        )
    return TicketState.DISPUTED


def _redispatch(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    assert isinstance(action, Redispatch)
    if action.unit == snap.unit:
        why = f"{action.unit} disputed it: confirm the dispatch instead of re-dispatching"
        raise IllegalTransition(snap.state, action, why, code="redispatch_same_unit")
    return TicketState.DISPATCHED


def _lead_closed(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    assert isinstance(action, LeadClosed)
    if action.lead != snap.merged_into:
        why = f"merged into {snap.merged_into}, not {action.lead}"
        raise IllegalTransition(snap.state, action, why)
    return TicketState.INFORM_PENDING


def _inform(snap: TicketSnapshot, action: Action, rules: Rules) -> TicketState:
    assert isinstance(action, InformCaller)
    return TicketState.ARCHIVED if action.reached else TicketState.INFORM_PENDING


S = TicketState
TABLE: dict[tuple[TicketState, type[Action]], TicketState | Guard] = {
    (S.VOICEMAIL_REVIEW, AcceptVoicemail): S.CREATED,
    (S.VOICEMAIL_REVIEW, DismissVoicemail): S.ARCHIVED,
    (S.CREATED, AnswerDirectly): S.CLOSED_DIRECT,
    (S.CREATED, Dispatch): S.DISPATCHED,
    (S.CLOSED_DIRECT, Archive): S.ARCHIVED,
    (S.DISPATCHED, SignFor): S.SIGNED,
    (S.DISPATCHED, Return): _return,
    (S.DISPATCHED, Dispute): _dispute,
    (S.DISPUTED, Redispatch): _redispatch,
    (S.DISPUTED, ConfirmDispatch): S.DISPATCHED,
    (S.CREATED, MergeInto): S.MERGED,
    (S.RETURNED, MergeInto): S.MERGED,
    (S.DISPATCHED, MergeInto): S.MERGED,
    (S.DISPUTED, MergeInto): S.MERGED,
    (S.MERGED, LeadClosed): _lead_closed,
    (S.INFORM_PENDING, InformCaller): _inform,
    (S.INFORM_PENDING, Archive): _archive_uninformed,
    (S.RETURNED, Dispatch): S.DISPATCHED,
    (S.RETURNED, AnswerDirectly): S.CLOSED_DIRECT,
    (S.SIGNED, StartWork): S.IN_PROGRESS,
    (S.IN_PROGRESS, RequestExtension): S.EXTENSION_REQUESTED,
    (S.IN_PROGRESS, CloseByUnit): S.CLOSED_BY_UNIT,
    (S.EXTENSION_REQUESTED, GrantExtension): _grant,
    (S.EXTENSION_REQUESTED, RefuseExtension): S.IN_PROGRESS,
    (S.CLOSED_BY_UNIT, Review): _review,
    (S.REVIEWED, RecordSurvey): _survey,
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


def _reopened(snap: TicketSnapshot) -> TicketSnapshot:
    # A new closure gets a fresh survey: attempts count per closure, not per order.
    return replace(
        snap, reopen_count=snap.reopen_count + 1, survey_attempts=0, survey_outcome=None,
        survey_solved=None,
    )  # fmt: skip


def _fold(snap: TicketSnapshot, event: TransitionEvent) -> TicketSnapshot:
    """The snapshot fields an event changes, from its data; shared by apply and rebuild."""
    action, data = event.action, event.data
    if action in ("Dispatch", "Redispatch"):
        due = data.get("return_due")
        return replace(
            snap, unit=str(data["unit"]), co_units=tuple(data.get("co_units", ())),
            dispute_until=datetime.fromisoformat(due) if due else None, disputed=False,
        )  # fmt: skip
    if action == "Return":
        return replace(snap, unit=None, co_units=())  # the unit is no longer responsible
    if action == "Dispute":
        return replace(snap, disputed=True)
    if action == "MergeInto":
        return replace(
            snap, unit=None, co_units=(), merged_into=str(data["lead"]), dispute_until=None,
            disputed=False,
        )  # fmt: skip
    if action == "InformCaller":
        return replace(snap, survey_attempts=snap.survey_attempts + 1)
    if action == "RequestExtension":
        return replace(snap, pending_extension_days=int(data["days"]))
    if action == "GrantExtension":
        days = snap.extension_days + int(data["days"])
        return replace(snap, extension_days=days, pending_extension_days=0)
    if action == "RefuseExtension":
        return replace(snap, pending_extension_days=0)
    if action == "RecordSurvey":
        if event.to_state == TicketState.REOPENED:
            return _reopened(snap)
        outcome: SurveyOutcome = data["outcome"]
        solved = data.get("solved")
        return replace(
            snap, survey_attempts=snap.survey_attempts + 1, survey_outcome=outcome,
            survey_solved=None if solved is None else bool(solved),
        )  # fmt: skip
    if action == "Reopen":
        return _reopened(snap)
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
    folded = _fold(snap, event)
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
