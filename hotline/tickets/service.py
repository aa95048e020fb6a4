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
* Disputes: ``Dispatch`` and ``Redispatch`` carry the return window (``return_due``, counted
  here in working days) so the lifecycle's guard can refuse a late ``Dispute``; ``Redispatch``
  restarts the clock for the new unit like a dispatch; ``ConfirmDispatch`` keeps the deadlines
  (the window was the unit's time to object).
* Merging (并单): ``MergeInto`` needs an open lead order that is not itself merged and has not
  closed, and the merged order may not be a lead of others (one level). The merged order's
  deadlines go (no unit holds it). When the lead closes (answered directly, or its closure
  approved on review) every order still merged into it gets ``LeadClosed`` with the lead's
  result in the same transaction: each caller is then informed (``InformCaller``).
* Surveys: ``record_survey`` is what the engine's survey call (and the callback desk) uses; a
  survey that sends the order back (unsatisfied / not solved) issues a supervision notice and a
  fresh reply deadline like ``Reopen``. ``surveys_due`` lists the orders awaiting a survey or an
  inform call whose last attempt is old enough.
* Catalogue and hot spots: the area of a new ticket comes from its address by the catalogue in
  force (``tickets.catalogue``) unless the agent chose one; ``suggest_units`` answers the form.
  A creation may raise a hot spot (``tickets.hotspots``), handed to ``on_hotspot`` listeners.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from hotline.base.daytypes import CENTRE_TZ
from hotline.tickets import catalogue as catalogues
from hotline.tickets.catalogue import Catalogue, Suggestion
from hotline.tickets.hotspots import Hotspot, HotspotBoard, HotspotRule, detect
from hotline.tickets.lifecycle import (
    DEADLINE_RECOMPUTED,
    DEFAULT_RULES,
    AcceptVoicemail,
    Action,
    AnswerDirectly,
    CloseByUnit,
    Dispatch,
    Dispute,
    GrantExtension,
    IllegalTransition,
    InformCaller,
    LeadClosed,
    MergeInto,
    RecordSurvey,
    RequestExtension,
    Return,
    Review,
    Rules,
    SignFor,
    StartWork,
    SurveyMethod,
    SurveyOutcome,
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
    clean_area,
    clean_call_id,
    clean_recording,
    clean_text,
    clean_unit,
    links,
    normalise_phone,
)
from hotline.tickets.workdays import (
    DEFAULT_POLICY,
    Category,
    DeadlinePolicy,
    WorkCalendar,
    local_date,
)

if TYPE_CHECKING:
    from hotline.base.settings import TicketsConfig

UNIT_ACTIONS = (SignFor, Return, Dispute, StartWork, RequestExtension, CloseByUnit)
# A unit's answer to a dispatch: on time when at or before the return deadline (响应率).
RESPONSES = (SignFor, Return, Dispute)
# Where a merge's lead order may be: open, and not yet closed by its unit or directly.
MERGE_LEAD_STATES = frozenset(
    {
        TicketState.CREATED, TicketState.DISPATCHED, TicketState.SIGNED, TicketState.RETURNED,
        TicketState.IN_PROGRESS, TicketState.EXTENSION_REQUESTED, TicketState.CLOSED_BY_UNIT,
        TicketState.REOPENED, TicketState.DISPUTED,
    }
)  # fmt: skip
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
    hotspots: HotspotRule = field(default_factory=HotspotRule)


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
            archive_after_unreachable=cfg.archive_after_unreachable,
            max_reopens=cfg.max_reopens,
            redo_after_unsatisfied=cfg.redo_after_unsatisfied,
        ),
        repeat_window_days=cfg.repeat_window_days,
        key_item_threshold=cfg.key_item_threshold,
        key_item_window_days=cfg.key_item_window_days,
        due_soon_workdays=cfg.due_soon_workdays,
        hotspots=HotspotRule(
            window_minutes=cfg.hotspot_window_minutes, threshold=cfg.hotspot_threshold
        ),
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
        if event.action in ("Dispatch", "Redispatch"):
            lead = str(event.data.get("unit", ""))
        if concerns_viewer:
            out.append(event)
            continue
        data: dict[str, Any] = {}
        for key, value in event.data.items():
            if key in ("unit", "proposed_unit"):
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
    if isinstance(action, Dispute) and action.proposed_unit:
        changes["proposed_unit"] = clean_unit("proposed_unit", action.proposed_unit)
    if isinstance(action, MergeInto | LeadClosed):
        changes["lead"] = ticket_number(action.lead)
    if isinstance(action, RecordSurvey | InformCaller) and action.call_id:
        changes["call_id"] = clean_call_id(action.call_id)
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
    policy, at = settings.policy, action.at
    if isinstance(action, MergeInto) and action.lead == rec.number:
        raise IllegalTransition(rec.state, action, "a ticket cannot be merged into itself")
    if isinstance(action, Dispatch):  # and Redispatch: the window a dispute must come within
        action = replace(action, return_due=policy.return_deadline(at))
    snapshot, event = apply(rec.snapshot, action, settings.rules)
    changes: dict[str, datetime | str | bool | None] = {}
    notice = None
    reopened = event.to_state == TicketState.REOPENED
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
                f"days before the deadline {due.astimezone(CENTRE_TZ).isoformat()}"
            )
            raise IllegalTransition(rec.state, action, why)
    elif isinstance(action, GrantExtension):
        if rec.reply_due_at is None:
            raise IllegalTransition(rec.state, action, "the ticket has no reply deadline")
        changes = {"reply_due_at": policy.calendar.add_workdays(rec.reply_due_at, action.days)}
    elif isinstance(action, MergeInto):
        changes = {"reply_due_at": None, "return_due_at": None, "onsite_due_at": None}
    elif reopened:  # Reopen, or a survey that sends the order back (复办/督办)
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
    unit = snapshot.unit if isinstance(action, Dispatch) else rec.unit
    # The window a dispatch gives (on its own row: a dispatch still within it is not yet late),
    # and the window in force when a unit answered.
    if isinstance(action, Dispatch):
        respond_due = action.return_due
    else:
        respond_due = rec.return_due_at if isinstance(action, RESPONSES) else None
    return TransitionPlan(
        snapshot, event, rec.reply_due_at, changes, notice, event_unit=unit,
        respond_due_at=respond_due,
    )  # fmt: skip


def plan_lead_closed(
    rec: TicketRecord, *, lead: str, result: str, actor: str, at: datetime
) -> TransitionPlan:
    """The step written on an order merged into ``lead`` when the lead closes."""
    action = LeadClosed(actor=actor, at=max(at, rec.updated_at), lead=lead, result=result)
    snapshot, event = apply(rec.snapshot, action)
    return TransitionPlan(snapshot, event, rec.reply_due_at, {"closed_at": action.at})


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
        if e.action in ("Dispatch", "Redispatch"):
            found["reply_due_at"] = policy.reply_deadline(category, e.at)
            found["return_due_at"] = policy.return_deadline(e.at)
        elif e.action == "GrantExtension" and found["reply_due_at"] is not None:
            due = found["reply_due_at"]
            found["reply_due_at"] = policy.calendar.add_workdays(due, int(e.data["days"]))
        elif e.action == "Reopen" or (
            e.action == "RecordSurvey" and e.to_state == TicketState.REOPENED
        ):
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
        self.catalogue: Catalogue = catalogues.EMPTY
        self.catalogue_origin = ""
        self.hotspot_board = HotspotBoard()
        # Called (from the creating thread) with every hot spot a creation raises.
        self.on_hotspot: list[Callable[[Hotspot], None]] = []

    # -- the dispatch catalogue ----------------------------------------------------------------

    def load_catalogue(self) -> Catalogue:
        """Read the catalogue in force from the store (after an import, at start)."""
        found = self.store.catalogue_text()
        if found is None:
            self.catalogue, self.catalogue_origin = catalogues.EMPTY, ""
        else:
            # Parsed without the subject check: a subject dropped from the tree since the
            # import must not make the whole catalogue unreadable.
            self.catalogue, self.catalogue_origin = catalogues.parse(found[0]), found[1]
        return self.catalogue

    def import_catalogue(
        self, text: str, origin: str, *, actor: str, at: datetime | None = None
    ) -> Catalogue:
        """Validate a catalogue file (CatalogueError names the entry) and put it in force."""
        parsed = catalogues.parse(text, self.settings.subjects.names)
        actor = clean_text("actor", actor, LIMITS["actor"], required=True)
        origin = clean_text("origin", origin, 200)
        self.store.save_catalogue(text, origin, len(parsed.entries), actor=actor, at=self._at(at))
        self.catalogue, self.catalogue_origin = parsed, origin
        return parsed

    def suggest_units(
        self, viewer: Viewer, *, subject_code: str, address: str = "", area: str = "",
        at: datetime | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The catalogue's lead unit and co-units for a subject and an address (or area)."""
        if viewer.is_unit:
            raise AccessDenied("the dispatch catalogue is for the hotline's dispatchers")
        subject = self.settings.subjects.validate(subject_code)
        address = clean_text("address", address, LIMITS["address"])
        area = clean_area(area) or self.catalogue.area_of(address)
        day = local_date(self._at(at))
        found: Suggestion | None = self.catalogue.suggest(subject, area, day)
        return {
            "subject_code": subject,
            "area": area,
            "area_name": self.catalogue.area_name(area) if area else "",
            "suggestion": found.to_json() if found is not None else None,
        }

    # -- surveys (回访) and informing merged callers --------------------------------------------

    def record_survey(
        self, number: str, *, outcome: SurveyOutcome, solved: bool | None,
        method: SurveyMethod = "automated", call_id: str = "", actor: str = "survey-ivr",
        note: str = "", at: datetime | None = None,
    ) -> TicketRecord:  # fmt: skip
        """One survey attempt's result (the engine's survey call, or the callback desk with
        ``method="human"``). Unsatisfied or not solved sends the order back to its unit under
        supervision (a notice is issued); IllegalTransition if the order awaits no survey."""
        action = RecordSurvey(
            actor=actor, at=self._at(at), note=note, outcome=outcome, solved=solved,
            method=method, call_id=call_id,
        )  # fmt: skip
        return self.act(number, action, Viewer("callback"))

    def inform_caller(
        self, number: str, *, reached: bool, method: SurveyMethod = "automated",
        call_id: str = "", actor: str = "survey-ivr", note: str = "", at: datetime | None = None,
    ) -> TicketRecord:  # fmt: skip
        """The caller of a merged order was told the lead order's result (or not reached)."""
        action = InformCaller(
            actor=actor, at=self._at(at), note=note, reached=reached, method=method,
            call_id=call_id,
        )  # fmt: skip
        return self.act(number, action, Viewer("callback"))

    def surveys_due(
        self, *, spacing: timedelta, max_attempts: int, now: datetime | None = None,
        limit: int = 100,
    ) -> list[TicketRecord]:  # fmt: skip
        """Orders awaiting a survey (reviewed; or unreachable so far, fewer than
        ``max_attempts`` attempts) or an inform call (``inform_pending``), whose last attempt
        is at least ``spacing`` ago; oldest change first. The caller places the calls within
        working hours; the number is on the record (this is the engine's, not a display's)."""
        now = self._at(now)
        states = {TicketState.REVIEWED, TicketState.CALLBACK_DONE, TicketState.INFORM_PENDING}
        found = self.store.find(states=states, limit=10_000)
        due = []
        for rec in found:
            if rec.state == TicketState.CALLBACK_DONE and rec.survey_outcome != "unreachable":
                continue
            if rec.survey_attempts >= max_attempts:
                continue
            if rec.survey_attempts and now - rec.updated_at < spacing:
                continue
            if not rec.caller_number:
                continue  # no number to call: a person must find the caller
            due.append(rec)
        return sorted(due, key=lambda r: r.updated_at)[:limit]

    def merged_callers(self, number: str, viewer: Viewer) -> list[TicketRecord]:
        """The orders merged into this lead order (every caller is kept), platform staff only."""
        rec = self.get(number, viewer)
        if viewer.is_unit:
            return []
        return self.store.find(merged_into=rec.number, limit=1000)

    def current_hotspots(self, now: datetime | None = None) -> list[Hotspot]:
        return self.hotspot_board.current(self._at(now))

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
        if not draft.area and draft.address:
            draft = replace(draft, area=self.catalogue.area_of(draft.address))
        at = self._at(at)
        s = self.settings
        rec = self.store.create(
            draft,
            actor=actor,
            at=at,
            key_since=at - timedelta(days=s.key_item_window_days),
            rule=partial(key_group_for, threshold=s.key_item_threshold),
            state=state,
        )
        self._hotspot(rec)
        return rec

    def _hotspot(self, rec: TicketRecord) -> None:
        rule = self.settings.hotspots
        if not rec.area or rule.threshold < 1:
            return
        since = rec.created_at - timedelta(minutes=rule.window_minutes)
        spot = detect(
            rule, self.store.count_similar(rec.subject_code, rec.area, since),
            subject=rec.subject_code,
            subject_name=self.settings.subjects.names.get(rec.subject_code, rec.subject_code),
            area=rec.area, area_name=self.catalogue.area_name(rec.area), at=rec.created_at,
        )  # fmt: skip
        if spot is None:
            return
        self.hotspot_board.put(spot)
        for listener in self.on_hotspot:
            listener(spot)

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
        number = ticket_number(number)
        if isinstance(action, MergeInto):
            self._check_merge(number, action)
        planner: Callable[[TicketRecord], TransitionPlan] = partial(
            plan_transition, action=action, viewer=viewer, settings=self.settings
        )
        if isinstance(action, AnswerDirectly | Review) and not viewer.is_unit:
            # Always: a merge committed after any check here would otherwise be missed; the
            # store finds the merged tickets under the lead's lock.
            planner = self._closing_lead(number, action, planner)
        if isinstance(action, MergeInto):
            lead_check = partial(self._check_lead, number)
            rec = self.store.transition(number, planner, lead=action.lead, lead_check=lead_check)
            return redact(rec, viewer)
        return redact(self.store.transition(number, planner), viewer)

    def _check_merge(self, number: str, action: MergeInto) -> None:
        if action.lead == number:
            raise FieldError("lead", f"{number} cannot be merged into itself")
        if self.store.find(merged_into=number, limit=1):
            why = f"{number} is itself a lead: merge the others into {action.lead}"
            raise FieldError("lead", why)

    @staticmethod
    def _check_lead(number: str, lead: TicketRecord) -> None:
        """Run under the lead's row lock (TicketStore.transition): no store calls here."""
        if lead.state not in MERGE_LEAD_STATES:
            why = f"the lead ticket {lead.number} is {lead.state.value}: merge into an open one"
            raise FieldError("lead", why)

    def _closing_lead(
        self,
        number: str,
        action: AnswerDirectly | Review,
        planner: Callable[[TicketRecord], TransitionPlan],
    ) -> Callable[[TicketRecord], TransitionPlan]:
        """The lead's step, with a LeadClosed step for every order merged into it."""
        if isinstance(action, AnswerDirectly):
            result = action.note or "answered directly"
        else:
            closures = [e for e in self.store.events(number) if e.action == "CloseByUnit"]
            result = str(closures[-1].data.get("result", "")) if closures else ""
        follow = partial(
            plan_lead_closed,
            lead=number,
            result=result or "closed",
            actor=action.actor,
            at=action.at,
        )

        def closing(rec: TicketRecord) -> TransitionPlan:
            plan = planner(rec)
            closes = plan.event.to_state in (TicketState.CLOSED_DIRECT, TicketState.REVIEWED)
            return replace(plan, followers=follow) if closes else plan

        return closing

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

    def log_fact(
        self, number: str, viewer: Viewer, *, action: str, actor: str, note: str,
        data: Mapping[str, Any], at: datetime | None = None,
    ) -> TicketRecord:  # fmt: skip
        """A fact about the order in its event log without a transition (the state stays):
        e.g. a supervisor setting a linked call's 双非 flag, with the reason as the note."""
        if viewer.is_unit:
            raise AccessDenied(f"{action} is for the hotline platform, not a handling unit")
        actor = clean_text("actor", actor, LIMITS["actor"], required=True)
        note = clean_text("note", note, LIMITS["note"], multiline=True, required=True)
        when = self._at(at)

        def plan(current: TicketRecord) -> TransitionPlan:
            snap, event = bookkeeping_event(
                current.snapshot, action=action, actor=actor, at=max(when, current.updated_at),
                note=note, data=data,
            )  # fmt: skip
            return TransitionPlan(snap, event, current.reply_due_at, {}, None)

        return redact(self.store.transition(ticket_number(number), plan), viewer)

    def notices(self, viewer: Viewer) -> list[Notice]:
        return self.store.notices(unit=viewer.unit if viewer.is_unit else None)


def _due(rec: TicketRecord) -> datetime:
    return rec.reply_due_at or datetime.max.replace(tzinfo=UTC)
