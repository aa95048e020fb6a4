"""The dispatch decisions on the web desktop (issue 17): a unit's dispute (派单异议), the
supervisor's review of pending disputes (改派 or 维持原派), merging a repeated matter into a
lead ticket (并单) and a supervisor's 双非 judgement of a call 110 transferred in.

Every step goes through the ticket service and its lifecycle: the page never decides what is
allowed, it only says in advance why a button is off (``dispute_panel``) and shows the
lifecycle's refusal in the reader's language (``IllegalTransition.code`` -> err_<code> in the
catalogue). A unit acts as its own unit: one it does not lead is refused (403), one it cannot
see at all is "not found" (404), as everywhere else: the answer must not confirm the ticket.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hotline.base.web.guard import allow, error, render, session_of
from hotline.base.web.sessions import Session
from hotline.desk.guard import DESK_KEY, Desk
from hotline.desk.ticketview import subject_words, when
from hotline.tickets.lifecycle import (
    Action,
    ConfirmDispatch,
    Dispute,
    IllegalTransition,
    MergeInto,
    Redispatch,
    TicketState,
)
from hotline.tickets.service import MERGE_LEAD_STATES
from hotline.tickets.values import (
    UNIT_OPEN_STATES,
    AccessDenied,
    FieldError,
    TicketNotFound,
    TicketRecord,
    Viewer,
)

# Where a ticket may be merged from (the lifecycle's table: MergeInto).
MERGE_FROM = frozenset(
    {TicketState.CREATED, TicketState.RETURNED, TicketState.DISPATCHED, TicketState.DISPUTED}
)
DOUBLE_NON_SET = "DoubleNonSet"  # the event that logs a supervisor's 双非 judgement


def viewer_of(session: Session) -> Viewer:
    if session.role == "unit":
        return Viewer("unit", session.unit)
    return Viewer("agent" if session.role == "agent" else "supervisor")


@dataclass(frozen=True)
class DisputePanel:
    """The unit's dispute button: on, or off with why (err-like key and its parameters)."""

    enabled: bool
    why: str = ""  # dispute_off_<why> in the catalogue
    until: str = ""  # the return window's end, in the centre's time


def dispute_panel(rec: TicketRecord, unit: str | None, now: datetime) -> DisputePanel:
    """What the lifecycle would say to this unit's dispute now, said before the click."""
    snap = rec.snapshot
    until = when(snap.dispute_until) if snap.dispute_until is not None else ""
    if rec.state is not TicketState.DISPATCHED:
        return DisputePanel(False, "state", until)
    if rec.unit != unit:
        return DisputePanel(False, "co_unit", until)
    if snap.disputed:
        return DisputePanel(False, "confirmed", until)
    if snap.dispute_until is not None and now > snap.dispute_until:
        return DisputePanel(False, "window", until)
    return DisputePanel(True, "", until)


@dataclass(frozen=True)
class UnitRow:
    number: str
    state: str
    subject: str
    until: str  # the dispute window's end while it is dispatched to the unit, else ""


def unit_tickets(desk: Desk, session: Session) -> list[UnitRow]:
    """The unit's open orders (lead or co-unit), newest first: the unit's way to its tickets."""
    viewer = viewer_of(session)
    found = desk.tickets.tickets(viewer, states=UNIT_OPEN_STATES, limit=200)
    names = desk.tickets.settings.subjects.names
    rows = []
    for rec in found:
        until = rec.snapshot.dispute_until
        may = rec.state is TicketState.DISPATCHED and rec.unit == session.unit
        shown = when(until) if until is not None and may else ""
        rows.append(
            UnitRow(rec.number, rec.state.value, subject_words(rec.subject_code, names), shown)
        )
    return rows


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


async def _body(request: web.Request, texts: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object sent; FieldError for anything else or a field that is not text."""
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise FieldError("body", "is not JSON") from None
    if not isinstance(data, dict):
        raise FieldError("body", "must be a JSON object")
    for name in texts:
        if not isinstance(data.get(name, ""), str):
            raise FieldError(name, "must be text")
    return data


def _required(data: dict[str, Any], name: str) -> str:
    value = str(data.get(name, "")).strip()
    if not value:
        raise FieldError(name, "is required")
    return value


async def _step(request: web.Request, build: Any) -> web.Response:
    """Run one lifecycle step for the session's user; errors as codes the page translates."""
    desk: Desk = request.config_dict[DESK_KEY]
    session = session_of(request)
    number = request.match_info["number"]
    try:
        action: Action = await build(request, session.user)
        rec = await asyncio.to_thread(desk.tickets.act, number, action, viewer_of(session))
    except IllegalTransition as exc:
        return error(409, str(exc), code=exc.code, params=exc.params)
    except AccessDenied as exc:
        return error(403, str(exc), code="not_lead_unit")
    except (TicketNotFound, LookupError) as exc:
        return error(404, str(exc))
    except FieldError as exc:
        code = "reason_required" if exc.field == "reason" else "bad_field"
        return error(400, str(exc), code=code, field=exc.field)
    except ValueError as exc:  # a bad number, an empty reason the action itself refused
        return error(400, str(exc))
    return _json({"number": rec.number, "state": rec.state.value, "unit": rec.unit})


@allow("unit")
async def dispute(request: web.Request) -> web.StreamResponse:
    async def build(req: web.Request, actor: str) -> Action:
        data = await _body(req, ("reason", "proposed_unit"))
        return Dispute(
            actor=actor, at=_now(), reason=_required(data, "reason"),
            proposed_unit=str(data.get("proposed_unit", "")).strip(),
        )  # fmt: skip

    return await _step(request, build)


@allow("supervisor", "admin")
async def redispatch(request: web.Request) -> web.StreamResponse:
    async def build(req: web.Request, actor: str) -> Action:
        data = await _body(req, ("unit", "note"))
        unit = _required(data, "unit")
        return Redispatch(actor=actor, at=_now(), unit=unit, note=str(data.get("note", "")))

    return await _step(request, build)


@allow("supervisor", "admin")
async def confirm(request: web.Request) -> web.StreamResponse:
    async def build(req: web.Request, actor: str) -> Action:
        data = await _body(req, ("reason",))
        return ConfirmDispatch(actor=actor, at=_now(), reason=_required(data, "reason"))

    return await _step(request, build)


@allow("agent", "supervisor", "admin")
async def merge(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]

    async def build(req: web.Request, actor: str) -> Action:
        data = await _body(req, ("lead", "note"))
        lead = _required(data, "lead")
        # Said in words before the service's own checks (which stay the word that counts).
        problem = await asyncio.to_thread(_merge_problem, desk, req.match_info["number"], lead)
        if problem:
            raise _MergeRefused(problem)
        return MergeInto(actor=actor, at=_now(), lead=lead, note=str(data.get("note", "")))

    try:
        return await _step(request, build)
    except _MergeRefused as exc:
        return error(409, str(exc), code=exc.code, field="lead")


class _MergeRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"merge refused: {code}")
        self.code = code


def _merge_problem(desk: Desk, number: str, lead: str) -> str:
    """Why this merge cannot be (an err_ code), or ''."""
    viewer = Viewer("supervisor")
    try:
        this = desk.tickets.get(number, viewer)
        head = desk.tickets.get(lead, viewer)
    except (LookupError, ValueError):
        return "merge_no_lead"
    if head.number == this.number:
        return "merge_self"
    if head.state not in MERGE_LEAD_STATES:
        return "merge_lead_closed"
    if desk.tickets.merged_callers(this.number, viewer):
        return "merge_is_lead"
    return ""


@allow("agent", "supervisor", "admin")
async def brief(request: web.Request) -> web.StreamResponse:
    """A ticket found by its number, for the merge form: enough to be sure it is the matter."""
    desk: Desk = request.config_dict[DESK_KEY]
    viewer = viewer_of(session_of(request))
    try:
        rec = await asyncio.to_thread(desk.tickets.get, request.match_info["number"], viewer)
        merged = await asyncio.to_thread(desk.tickets.merged_callers, rec.number, viewer)
    except (LookupError, ValueError):
        return error(404, "no such ticket", code="merge_no_lead")
    names = desk.tickets.settings.subjects.names
    return _json({
        "number": rec.number, "state": rec.state.value,
        "subject": subject_words(rec.subject_code, names), "address": rec.address,
        "caller_number": rec.caller_number, "created": when(rec.created_at),
        "merged": len(merged), "open": rec.state in MERGE_LEAD_STATES,
    })  # fmt: skip


@allow("supervisor", "admin")
async def double_non(request: web.Request) -> web.StreamResponse:
    """Set or clear the 双非 flag of a call 110 transferred in; the reason goes in the log."""
    desk: Desk = request.config_dict[DESK_KEY]
    session = session_of(request)
    number = request.match_info["number"]
    try:
        data = await _body(request, ("call_id", "reason"))
        flag = data.get("double_non")
        if not isinstance(flag, bool):
            raise FieldError("double_non", "must be true or false")
        call_id, reason = _required(data, "call_id"), _required(data, "reason")
        rec = await asyncio.to_thread(desk.tickets.get, number, viewer_of(session))
        if call_id not in rec.calls or desk.followups is None:
            raise FieldError("call_id", "is not a call of this ticket")
        found = await asyncio.to_thread(desk.followups.from_110, [call_id])
        if call_id not in found:
            raise FieldError("call_id", "110 did not transfer this call")
        await asyncio.to_thread(desk.followups.set_double_non, call_id, flag)
        rec = await asyncio.to_thread(
            desk.tickets.log_fact, number, viewer_of(session), action=DOUBLE_NON_SET,
            actor=session.user, note=reason, data={"call_id": call_id, "double_non": flag},
        )  # fmt: skip
    except (TicketNotFound, LookupError) as exc:
        return error(404, str(exc))
    except FieldError as exc:
        code = "reason_required" if exc.field == "reason" else "bad_field"
        return error(400, str(exc), code=code, field=exc.field)
    except ValueError as exc:
        return error(400, str(exc))
    return _json({"number": rec.number, "call_id": call_id, "double_non": flag})


@allow("supervisor", "admin")
async def disputes_page(request: web.Request) -> web.StreamResponse:
    """Pending disputes, oldest first: each with the unit's reason, the catalogue's suggestion
    and the units to choose from, and the two decisions."""
    desk: Desk = request.config_dict[DESK_KEY]
    rows = await asyncio.to_thread(_pending, desk)
    return render(request, "disputes.html.j2", {"rows": rows})


@dataclass(frozen=True)
class Pending:
    number: str
    subject: str
    unit: str
    reason: str
    proposed: str
    by: str
    at: str
    suggested: str
    choices: tuple[str, ...]


def _pending(desk: Desk) -> list[Pending]:
    viewer = Viewer("supervisor")
    found = desk.tickets.tickets(viewer, states=frozenset({TicketState.DISPUTED}), limit=500)
    known = _known_units(desk)
    rows = []
    for rec in sorted(found, key=lambda r: r.updated_at):
        events = desk.tickets.events(rec.number, viewer)
        last = next((e for e in reversed(events) if e.action == "Dispute"), None)
        data = last.data if last is not None else {}
        proposed = str(data.get("proposed_unit", ""))
        suggested = ""
        try:
            hint = desk.tickets.suggest_units(
                viewer, subject_code=rec.subject_code, address=rec.address, area=rec.area
            )
            suggested = (hint["suggestion"] or {}).get("lead_unit", "")
        except (FieldError, AccessDenied):
            pass
        first = [u for u in (suggested, proposed) if u]
        choices = [u for u in dict.fromkeys([*first, *sorted(known)]) if u != rec.unit]
        rows.append(
            Pending(
                number=rec.number,
                subject=subject_words(rec.subject_code, desk.tickets.settings.subjects.names),
                unit=rec.unit or "",
                reason=str(data.get("reason", "")),
                proposed=proposed,
                by=last.actor if last is not None else "",
                at=when(last.at if last else None),
                suggested=suggested if suggested != rec.unit else "",
                choices=tuple(choices),
            )
        )
    return rows


def _known_units(desk: Desk) -> set[str]:
    """The units a ticket may go to: the catalogue's and those with desk users."""
    units = set()
    for entry in desk.tickets.catalogue.entries:
        units.add(entry.lead_unit)
        units.update(entry.co_units)
    units.update(u.unit for u in desk.users.list() if u.role == "unit" and u.unit)
    return units


def _now() -> datetime:
    return datetime.now(UTC)


def add_dispute_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/disputes", disputes_page)
    r.add_get("/api/tickets/{number}/brief", brief)
    r.add_post("/api/tickets/{number}/dispute", dispute)
    r.add_post("/api/tickets/{number}/redispatch", redispatch)
    r.add_post("/api/tickets/{number}/confirm", confirm)
    r.add_post("/api/tickets/{number}/merge", merge)
    r.add_post("/api/tickets/{number}/double-non", double_non)
