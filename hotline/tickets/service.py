"""Work-order logic: intake, lifecycle steps with their deadlines, who sees what, repeats and
key items. The lifecycle itself is ``hotline.tickets.lifecycle`` (the only place states change); the
decisions here are pure functions the store runs inside its transaction.

Rules (docs/DOMAIN.md; every number is configurable in ``[tickets]``):

* Voicemail: a message left out of hours is created in ``voicemail_review`` (channel
  ``voicemail``, ``create_voicemail``); ``AcceptVoicemail`` may correct its description,
  category and subject, which are checked like intake's. No deadline runs before acceptance.
* Deadlines (``DeadlinePolicy``, working days): ``Dispatch`` sets the reply deadline for the
  ticket's category (emergency handling uses the emergency row, plus an on-site deadline of 2 h
  wall clock) and the sign-for/return deadline. A re-dispatch after a return restarts the clock
  for the new unit. ``GrantExtension`` adds its working days to the deadline in force. ``Reopen``
  (复办) gives the same unit a fresh period and issues a supervision notice (督办). An extension
  asked later than ``extension_lead_workdays`` before the deadline is refused like an illegal
  transition. Each event row keeps the deadline in force when it happened, so "closed on time"
  is ``CloseByUnit.at <= due_at``.
* Visibility: platform roles see everything. A unit sees the tickets whose lead or co-unit it
  is now, and may only sign for, return, start, ask an extension and close, as lead unit (co-units
  assist; the lead unit answers). A ticket it may not see is "not found", not "forbidden": the
  answer must not confirm that a complaint about it exists.
* Identity: a unit never sees the caller's name, number, contact, calls or recordings when the
  caller asked for confidentiality, or on a complaint or report about that unit; on those
  tickets its event log has no notes and names no other unit (``redact_events``). A complaint or
  report that names no unit is treated as being about whoever handles it (the safe reading).
* Repeats: a call from a number with open tickets last contacted within ``repeat_window_days``
  is a repeat; those tickets are the ones to link the call to.
* Key items (重点): tickets created within ``key_item_window_days`` on the same normalised address
  and subject from ``key_item_threshold`` distinct callers (caller number, else contact) share a
  ``key_group`` (the first ticket's number) and are flagged ``key_item``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from hotline.tickets.lifecycle import (
    DEADLINE_RECOMPUTED,
    DEFAULT_RULES,
    AcceptVoicemail,
    Action,
    AnswerDirectly,
    CloseByUnit,
    Dispatch,
    GrantExtension,
    IllegalTransition,
    Reopen,
    RequestExtension,
    Return,
    Review,
    Rules,
    SignFor,
    StartWork,
    TicketState,
    TransitionEvent,
    apply,
    bookkeeping_event,
)
from hotline.tickets.numbers import normalize_ticket_number, parse_ticket_number
from hotline.tickets.store import TicketStore
from hotline.tickets.values import (
    DEFAULT_SUBJECTS,
    FINAL_STATES,
    LIMITS,
    MAX_EXTENSION_DAYS,
    PROTECTED_CATEGORIES,
    TICKET_CATEGORIES,
    UNIT_OPEN_STATES,
    AccessDenied,
    Channel,
    FieldError,
    Notice,
    RepeatCheck,
    Similar,
    SubjectTree,
    TicketDraft,
    TicketNotFound,
    TicketRecord,
    TransitionPlan,
    Viewer,
    clean_call_id,
    clean_recording,
    clean_text,
    clean_unit,
    links,
    normalise_phone,
)
from hotline.tickets.workdays import (
    DEFAULT_POLICY,
    SHANGHAI,
    Category,
    DeadlinePolicy,
    WorkCalendar,
    local_date,
)

if TYPE_CHECKING:
    from hotline.base.settings import TicketsConfig

UNIT_ACTIONS = (SignFor, Return, StartWork, RequestExtension, CloseByUnit)
MAX_CO_UNITS = 10
OPEN_STATES = frozenset(TicketState) - FINAL_STATES


@dataclass(frozen=True)
class TicketSettings:
    subjects: SubjectTree = field(default_factory=lambda: SubjectTree(DEFAULT_SUBJECTS))
    policy: DeadlinePolicy = DEFAULT_POLICY
    rules: Rules = DEFAULT_RULES
    repeat_window_days: int = 7
    key_item_threshold: int = 3
    key_item_window_days: int = 30
    due_soon_workdays: int = 1


def settings_from_config(cfg: TicketsConfig) -> TicketSettings:
    calendar = WorkCalendar(
        extra_holidays=frozenset(cfg.extra_holidays),
        extra_workdays=frozenset(cfg.extra_workdays),
        extra_years=frozenset(cfg.extra_years),
    )
    reply = dict(DEFAULT_POLICY.reply_workdays)
    reply.update({Category(k): v for k, v in cfg.reply_workdays.items()})
    return TicketSettings(
        subjects=SubjectTree(cfg.subjects or DEFAULT_SUBJECTS),
        policy=DeadlinePolicy(
            calendar=calendar,
            reply_workdays=reply,
            return_workdays=cfg.return_workdays,
            callback_workdays=cfg.callback_workdays,
            extension_lead_workdays=cfg.extension_lead_workdays,
        ),
        rules=Rules(
            archive_after_unreachable=cfg.archive_after_unreachable, max_reopens=cfg.max_reopens
        ),
        repeat_window_days=cfg.repeat_window_days,
        key_item_threshold=cfg.key_item_threshold,
        key_item_window_days=cfg.key_item_window_days,
        due_soon_workdays=cfg.due_soon_workdays,
    )


# --- pure decisions ---------------------------------------------------------------------------


def deadline_category(rec: TicketRecord) -> Category:
    return Category.EMERGENCY if rec.handling_type == "emergency" else Category(rec.category)


def can_see(rec: TicketRecord, viewer: Viewer) -> bool:
    return not viewer.is_unit or viewer.unit == rec.unit or viewer.unit in rec.co_units


def identity_hidden(rec: TicketRecord, viewer: Viewer) -> bool:
    if not viewer.is_unit:
        return False
    if rec.confidential:
        return True
    return rec.category in PROTECTED_CATEGORIES and rec.about_unit in ("", viewer.unit)


def redact(rec: TicketRecord, viewer: Viewer) -> TicketRecord:
    if not identity_hidden(rec, viewer):
        return rec
    # Calls and recordings go too: a call record carries the number, a recording the voice.
    return replace(
        rec, caller_name="", caller_number="", contact="", calls=(), recordings=(), redacted=True
    )


UNIT_ACTION_NAMES = frozenset(a.__name__ for a in UNIT_ACTIONS)
EXTENSION_ANSWERS = frozenset({"GrantExtension", "RefuseExtension"})


def redact_events(events: list[TransitionEvent], viewer: Viewer) -> list[TransitionEvent]:
    """The event log as a unit may read it when the caller's identity is hidden from it (a
    complaint or report about it, or a confidential ticket): no notes (they are where a
    dispatcher writes what the caller said), and no other unit (its name, its staff, its
    reasons). The unit's own steps as lead unit, and the answers to its extension requests,
    stay whole."""
    out: list[TransitionEvent] = []
    lead: str | None = None
    for event in events:
        concerns_viewer = lead == viewer.unit and (
            event.action in UNIT_ACTION_NAMES or event.action in EXTENSION_ANSWERS
        )
        if event.action == "Dispatch":
            lead = str(event.data.get("unit", ""))
        if concerns_viewer:
            out.append(event)
            continue
        data: dict[str, Any] = {}
        for key, value in event.data.items():
            if key == "unit":
                data[key] = value if value == viewer.unit else ""
            elif key == "co_units":
                data[key] = [u for u in value if u == viewer.unit]
            elif key not in ("reason", "result"):
                data[key] = value
        by_unit = event.action in UNIT_ACTION_NAMES  # another unit's staff
        out.append(replace(event, note="", actor="" if by_unit else event.actor, data=data))
    return out


def key_group_for(similar: list[Similar], threshold: int) -> str | None:
    """The group to put all of ``similar`` in, or None while too few distinct callers."""
    if len({s.caller for s in similar if s.caller}) < threshold:
        return None
    groups = sorted(s.key_group for s in similar if s.key_group)
    # Numbers sort by date then sequence: the group is named after its first ticket.
    return groups[0] if groups else min(s.number for s in similar)


def clean_action(action: Action) -> Action:
    """Length and character limits on an action's text (the lifecycle checks only emptiness)."""
    changes: dict[str, Any] = {"actor": clean_text("actor", action.actor, LIMITS["actor"])}
    changes["note"] = clean_text("note", action.note, LIMITS["note"], multiline=True)
    for name in ("reason", "result"):
        if hasattr(action, name):
            changes[name] = clean_text(name, getattr(action, name), LIMITS[name], multiline=True)
    if isinstance(action, Dispatch):
        changes["unit"] = clean_unit("unit", action.unit)
        if len(action.co_units) > MAX_CO_UNITS:
            raise FieldError("co_units", f"{len(action.co_units)} units, at most {MAX_CO_UNITS}")
        changes["co_units"] = tuple(clean_unit("co_units", u) for u in action.co_units)
    if isinstance(action, AcceptVoicemail):
        changes["description"] = clean_text(
            "description", action.description, LIMITS["description"], multiline=True
        )
        changes["subject_code"] = clean_text(
            "subject_code", action.subject_code, LIMITS["subject_code"]
        )
        if action.category and action.category not in TICKET_CATEGORIES:
            shown = repr(action.category)[:40]
            raise FieldError("category", f"{shown} is not one of {', '.join(TICKET_CATEGORIES)}")
    if isinstance(action, RequestExtension | GrantExtension):
        if isinstance(action.days, bool) or not isinstance(action.days, int):
            raise FieldError("days", "must be a whole number of working days")
        if action.days > MAX_EXTENSION_DAYS:
            raise FieldError("days", f"{action.days} working days, at most {MAX_EXTENSION_DAYS}")
    return replace(action, **changes)


def plan_transition(
    rec: TicketRecord, action: Action, viewer: Viewer, settings: TicketSettings
) -> TransitionPlan:
    """The event and row changes for one step, or an exception (then nothing is written)."""
    if not can_see(rec, viewer):
        raise TicketNotFound(rec.number)
    if viewer.is_unit:
        if not isinstance(action, UNIT_ACTIONS):
            raise AccessDenied(f"{action.name} is for the hotline platform, not a handling unit")
        if rec.unit != viewer.unit:
            raise AccessDenied(f"only the lead unit {rec.unit} may {action.name}; co-units assist")
    if action.at < rec.updated_at:
        raise FieldError("at", f"{action.at.isoformat()} is before the ticket's last change")
    snapshot, event = apply(rec.snapshot, action, settings.rules)
    policy, at = settings.policy, action.at
    changes: dict[str, datetime | str | bool | None] = {}
    notice = None
    if isinstance(action, AcceptVoicemail):
        # The reviewer's corrections; what they leave empty stays as intake wrote it.
        if action.subject_code:
            changes["subject_code"] = settings.subjects.validate(action.subject_code)
        if action.category:
            changes["category"] = action.category
        if action.description:
            changes["description"] = action.description
    elif isinstance(action, Dispatch):
        emergency = rec.handling_type == "emergency"
        changes = {
            "dispatched_at": at,
            "reply_due_at": policy.reply_deadline(deadline_category(rec), at),
            "return_due_at": policy.return_deadline(at),
            "onsite_due_at": policy.onsite_deadline(at) if emergency else None,
            "closed_at": None,
            "callback_due_at": None,
        }
    elif isinstance(action, RequestExtension):
        due = rec.reply_due_at
        if due is not None and not policy.extension_request_allowed(due, at):
            why = (
                f"extensions must be asked at least {policy.extension_lead_workdays} working "
                f"days before the deadline {due.astimezone(SHANGHAI).isoformat()}"
            )
            raise IllegalTransition(rec.state, action, why)
    elif isinstance(action, GrantExtension):
        if rec.reply_due_at is None:
            raise IllegalTransition(rec.state, action, "the ticket has no reply deadline")
        changes = {"reply_due_at": policy.calendar.add_workdays(rec.reply_due_at, action.days)}
    elif isinstance(action, Reopen):
        changes = {
            "reply_due_at": policy.reply_deadline(deadline_category(rec), at),
            "closed_at": None,
            "callback_due_at": None,
        }
        notice = "reopened"
    elif isinstance(action, CloseByUnit):
        changes = {"closed_at": at, "callback_due_at": policy.callback_deadline(at)}
    elif isinstance(action, AnswerDirectly):
        changes = {"closed_at": at}
    elif isinstance(action, Review) and not action.approved:
        changes = {"closed_at": None, "callback_due_at": None}
    if any(name in changes for name in DEADLINES):
        final = {name: changes.get(name, getattr(rec, name)) for name in DEADLINES}
        changes["deadline_provisional"] = provisional(final, at, policy.calendar)
    return TransitionPlan(snapshot, event, rec.reply_due_at, changes, notice)


def _recompute_plan(
    current: TicketRecord,
    *,
    seen: TicketRecord,
    actor: str,
    at: datetime,
    note: str,
    data: dict[str, Any],
    changes: dict[str, Any],
) -> TransitionPlan:
    if current.last_event_seq != seen.last_event_seq:
        raise _Moved(current.number)
    snap, event = bookkeeping_event(
        current.snapshot, action=DEADLINE_RECOMPUTED, actor=actor,
        at=max(at, current.updated_at), note=note, data=data,
    )  # fmt: skip
    return TransitionPlan(snap, event, current.reply_due_at, changes, None)


class _Moved(Exception):
    """A ticket changed between reading its log and writing the recomputed deadlines."""


DEADLINES = ("reply_due_at", "return_due_at", "callback_due_at")


def provisional(deadlines: Mapping[str, Any], at: datetime, calendar: WorkCalendar) -> bool:
    """Whether a deadline in force was counted across a provisional calendar year."""
    return any(
        isinstance(due, datetime) and calendar.deadline_provisional(at, due)
        for due in deadlines.values()
    )


def recomputed_deadlines(
    rec: TicketRecord, events: list[TransitionEvent], policy: DeadlinePolicy
) -> dict[str, datetime]:
    """The deadlines in force, counted again from the event log on today's calendar: those
    that differ from the stored ones (only deadlines the ticket has now are touched)."""
    category = deadline_category(rec)
    found: dict[str, datetime | None] = dict.fromkeys(DEADLINES)
    for e in events:
        if e.action == "Dispatch":
            found["reply_due_at"] = policy.reply_deadline(category, e.at)
            found["return_due_at"] = policy.return_deadline(e.at)
        elif e.action == "GrantExtension" and found["reply_due_at"] is not None:
            due = found["reply_due_at"]
            found["reply_due_at"] = policy.calendar.add_workdays(due, int(e.data["days"]))
        elif e.action == "Reopen":
            found["reply_due_at"] = policy.reply_deadline(category, e.at)
        elif e.action == "CloseByUnit":
            found["callback_due_at"] = policy.callback_deadline(e.at)
    out: dict[str, datetime] = {}
    for name, value in found.items():
        current = getattr(rec, name)
        if current is not None and value is not None and value != current:
            out[name] = value
    return out


def ticket_number(value: str) -> str:
    """Digits of a typed ticket number; InvalidTicketNumber (a ValueError) if mistyped."""
    if not isinstance(value, str) or len(value) > 40:
        raise FieldError("number", "is not a ticket number")
    parse_ticket_number(value)
    return normalize_ticket_number(value)


# --- the service ------------------------------------------------------------------------------


class TicketService:
    """Synchronous (SQLAlchemy); the HTTP layer calls it from a worker thread."""

    def __init__(
        self,
        store: TicketStore,
        settings: TicketSettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or TicketSettings()
        self.clock = clock or (lambda: datetime.now(UTC))

    def _at(self, at: datetime | None) -> datetime:
        value = self.clock() if at is None else at
        local_date(value)  # refuses a naive datetime with a clear message
        return value

    def create(self, draft: TicketDraft, *, actor: str, at: datetime | None = None) -> TicketRecord:
        return self._create(draft, actor, at, TicketState.CREATED)

    def create_voicemail(
        self, draft: TicketDraft, *, actor: str, at: datetime | None = None
    ) -> TicketRecord:
        """A message left out of hours: an order awaiting review (rule 0 of the lifecycle)."""
        if draft.channel != Channel.VOICEMAIL:
            raise FieldError(
                "channel", f"a voicemail order has channel voicemail, not {draft.channel}"
            )
        return self._create(draft, actor, at, TicketState.VOICEMAIL_REVIEW)

    def find_by_call(self, call_id: str) -> list[TicketRecord]:
        """Tickets linked to a call (e.g. to make voicemail intake idempotent)."""
        return self.store.find(call_id=clean_call_id(call_id))

    def _create(
        self, draft: TicketDraft, actor: str, at: datetime | None, state: TicketState
    ) -> TicketRecord:
        actor = clean_text("actor", actor, LIMITS["actor"], required=True)
        draft = replace(draft, subject_code=self.settings.subjects.validate(draft.subject_code))
        at = self._at(at)
        s = self.settings
        return self.store.create(
            draft,
            actor=actor,
            at=at,
            key_since=at - timedelta(days=s.key_item_window_days),
            rule=partial(key_group_for, threshold=s.key_item_threshold),
            state=state,
        )

    def get(self, number: str, viewer: Viewer) -> TicketRecord:
        rec = self.store.get(ticket_number(number))
        if not can_see(rec, viewer):
            raise TicketNotFound(rec.number)
        return redact(rec, viewer)

    def events(self, number: str, viewer: Viewer) -> list[TransitionEvent]:
        rec = self.get(number, viewer)
        found = self.store.events(rec.number)
        return redact_events(found, viewer) if identity_hidden(rec, viewer) else found

    def act(self, number: str, action: Action, viewer: Viewer) -> TicketRecord:
        action = clean_action(action)
        planner = partial(plan_transition, action=action, viewer=viewer, settings=self.settings)
        return redact(self.store.transition(ticket_number(number), planner), viewer)

    def link(
        self,
        number: str,
        viewer: Viewer,
        *,
        calls: tuple[str, ...] = (),
        recordings: tuple[str, ...] = (),
        at: datetime | None = None,
    ) -> TicketRecord:
        """Attach calls (e.g. a repeat call) and recordings; platform staff only."""
        if viewer.is_unit:
            raise AccessDenied("units cannot attach calls or recordings")
        rec = self.store.link(
            ticket_number(number),
            calls=links("calls", calls, clean_call_id),
            recordings=links("recordings", recordings, clean_recording),
            at=self._at(at),
        )
        return redact(rec, viewer)

    def repeat_check(
        self, caller_number: str, viewer: Viewer, at: datetime | None = None
    ) -> RepeatCheck:
        """The caller's open tickets contacted within the repeat window (the screen pop)."""
        if viewer.is_unit:
            raise AccessDenied("the repeat check is for call-takers")
        number = normalise_phone(caller_number)
        if not number:
            return RepeatCheck(caller="", repeat=False)
        since = self._at(at) - timedelta(days=self.settings.repeat_window_days)
        found = self.store.find(caller_number=number, states=OPEN_STATES, contact_since=since)
        return RepeatCheck(caller=number, repeat=bool(found), tickets=tuple(found))

    def linked(self, number: str, viewer: Viewer) -> list[TicketRecord]:
        """The other tickets of this ticket's key-item group that the viewer may see."""
        rec = self.get(number, viewer)
        if rec.key_group is None:
            return []
        unit = viewer.unit if viewer.is_unit else None
        found = self.store.find(key_group=rec.key_group, unit=unit)
        return [redact(r, viewer) for r in found if r.number != rec.number]

    def tickets(
        self, viewer: Viewer, *, states: frozenset[TicketState] | None = None, limit: int = 100
    ) -> list[TicketRecord]:
        unit = viewer.unit if viewer.is_unit else None
        return [redact(r, viewer) for r in self.store.find(unit=unit, states=states, limit=limit)]

    def overdue(self, viewer: Viewer, now: datetime | None = None) -> list[TicketRecord]:
        """Orders at a unit past their reply deadline, most overdue first."""
        now = self._at(now)
        unit = viewer.unit if viewer.is_unit else None
        found = self.store.find(unit=unit, states=UNIT_OPEN_STATES, due_before=now, limit=1000)
        return [redact(r, viewer) for r in sorted(found, key=_due)]

    def due_soon(self, viewer: Viewer, now: datetime | None = None) -> list[TicketRecord]:
        """Orders at a unit whose deadline is within ``due_soon_workdays`` (the yellow card)."""
        now = self._at(now)
        policy, soon = self.settings.policy, self.settings.due_soon_workdays
        # Every deadline ends a working day, so none that is due soon lies beyond this.
        horizon = policy.calendar.add_workdays(now, soon + 1)
        unit = viewer.unit if viewer.is_unit else None
        found = self.store.find(unit=unit, states=UNIT_OPEN_STATES, due_before=horizon, limit=1000)
        due = [
            r
            for r in found
            if r.reply_due_at is not None
            and policy.due_status(r.reply_due_at, now, soon) == "due_soon"
        ]
        return [redact(r, viewer) for r in sorted(due, key=_due)]

    def issue_supervision_notices(
        self, viewer: Viewer, actor: str, note: str = "", now: datetime | None = None
    ) -> list[Notice]:
        """A 督办 notice for every overdue order that has none for its current deadline."""
        if viewer.role not in ("supervisor", "dispatcher"):
            raise AccessDenied("supervision notices are issued by supervisors or dispatchers")
        actor = clean_text("actor", actor, LIMITS["actor"], required=True)
        note = clean_text("note", note, LIMITS["note"], multiline=True)
        return self.store.issue_overdue_notices(self._at(now), actor, note)

    def recompute_provisional(
        self, *, actor: str, reason: str, now: datetime | None = None
    ) -> list[tuple[TicketRecord, dict[str, datetime]]]:
        """Open tickets whose deadlines were provisional, counted again on today's calendar
        (after an import, or a package that now knows the year). Each change is an event on
        the ticket saying what moved and why; a ticket still provisional keeps its mark."""
        at = self._at(now)
        policy = self.settings.policy
        changed = []
        for rec in self.store.find(states=OPEN_STATES, provisional=True, limit=100_000):
            events = self.store.events(rec.number)
            moved = recomputed_deadlines(rec, events, policy)
            final = {name: moved.get(name, getattr(rec, name)) for name in DEADLINES}
            still = provisional(final, at, policy.calendar)
            if not moved and still:
                continue
            data = {
                name: {"from": getattr(rec, name).isoformat(), "to": value.isoformat()}
                for name, value in moved.items()
            } | {"provisional": still}
            changes: dict[str, Any] = {**moved, "deadline_provisional": still}
            step = partial(
                _recompute_plan, seen=rec, actor=actor, at=at, note=reason, data=data,
                changes=changes,
            )  # fmt: skip
            try:
                changed.append((self.store.transition(rec.number, step), moved))
            except _Moved:  # it moved meanwhile: its own step counted its deadlines anew
                continue
        return changed

    def notices(self, viewer: Viewer) -> list[Notice]:
        return self.store.notices(unit=viewer.unit if viewer.is_unit else None)


def _due(rec: TicketRecord) -> datetime:
    return rec.reply_due_at or datetime.max.replace(tzinfo=UTC)
