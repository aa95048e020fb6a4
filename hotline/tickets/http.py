"""HTTP routes for tickets and reports (JSON), added to the engine's aiohttp application.

The application's bearer token authenticates a trusted platform client (the web desktop's back
end, scripts); that client says on whose behalf it asks with ``X-Hotline-Role`` (agent,
dispatcher, callback, supervisor, unit; default agent) and, for a unit, ``X-Hotline-Unit``. The
service enforces what that viewer may see and do. Per-user login belongs to the web desktop.

Errors: 400 bad input (the message names the field), 403 not allowed for this viewer, 404 no
such ticket (or not visible), 409 not allowed in the ticket's state, 503 store unreachable.

    GET  /api/v1/reports?from=YYYY-MM-DD&to=YYYY-MM-DD
    POST /api/v1/tickets                          a TicketDraft as JSON (+ "actor")  -> 201
    GET  /api/v1/tickets?view=open|due_soon|overdue|all
    GET  /api/v1/tickets/repeats?caller=NUMBER    the screen pop's repeat check
    GET  /api/v1/tickets/{number}                 and .../events, .../linked
    POST /api/v1/tickets/{number}/actions         {"action": "Dispatch", "actor": .., "unit": ..}
    POST /api/v1/tickets/{number}/links           {"calls": [..], "recordings": [..]}
    GET  /api/v1/supervision-notices              POST issues them for overdue orders
    GET  /api/v1/reports/units?from=..&to=..&by=score|response_rate|resolution_rate|...
                                                  the three rates per unit, ranked
    GET  /api/v1/catalogue/suggest?subject_code=..&address=..[&area=..]   the catalogue's unit
    GET  /api/v1/tickets/{number}/merged          the orders (callers) merged into this one
    GET  /api/v1/hotspots                         the hot spots in force (codes and counts)
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from hotline.tickets.hotspots import banner
from hotline.tickets.lifecycle import ACTION_TYPES, Action, IllegalTransition
from hotline.tickets.reports import Period, build_report, ranking, three_rates
from hotline.tickets.service import OPEN_STATES, TicketService
from hotline.tickets.values import (
    AccessDenied,
    FieldError,
    TicketDraft,
    TicketNotFound,
    Viewer,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]
_ACTIONS = {a.__name__: a for a in ACTION_TYPES}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except TicketNotFound as exc:
            return _json({"error": str(exc)}, 404)
        except AccessDenied as exc:
            return _json({"error": str(exc)}, 403)
        except IllegalTransition as exc:
            return _json({"error": str(exc)}, 409)
        except ValueError as exc:  # FieldError, InvalidTicketNumber, CalendarOutOfRange, ...
            return _json({"error": str(exc)}, 400)
        except SQLAlchemyError as exc:
            log.warning("ticket store error on %s %s: %s", request.method, request.path, exc)
            return _json({"error": "ticket store unavailable"}, 503)

    return wrapped


def viewer_of(request: web.Request) -> Viewer:
    role = request.headers.get("X-Hotline-Role", "agent")
    unit = request.headers.get("X-Hotline-Unit") or None
    return Viewer(role, unit)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise FieldError("body", "is not JSON (or nested too deeply)") from None
    if not isinstance(data, dict):
        raise FieldError("body", "must be a JSON object")
    return data


def action_from_json(data: Mapping[str, Any], at: datetime) -> Action:
    """An Action from untrusted JSON; ``at`` is the server's clock, never the client's."""
    name = data.get("action")
    kind = _ACTIONS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise FieldError("action", f"give one of {', '.join(_ACTIONS)}")
    allowed = {f.name for f in fields(kind)} - {"at"}
    unknown = sorted(set(data) - allowed - {"action"})
    if unknown:
        raise FieldError(unknown[0], f"unknown field for {name} (known: {sorted(allowed)})")
    kwargs = {k: v for k, v in data.items() if k != "action"}
    for key, value in kwargs.items():
        expected, what = _FIELD_TYPES.get(key, (str, "text"))
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise FieldError(key, f"must be {what}")
    if "co_units" in kwargs:
        kwargs["co_units"] = tuple(_texts("co_units", kwargs["co_units"]))
    try:
        return kind(at=at, **kwargs)
    except TypeError as exc:  # a required field is missing
        raise FieldError("action", f"{name}: {exc}") from None


_FIELD_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "days": (int, "a whole number"),
    "approved": (bool, "true or false"),
    "co_units": (list, "a list"),
    "solved": ((bool, type(None)), "true, false or null"),
    "reached": (bool, "true or false"),
    "return_due": (type(None), "left out: the server counts the return window"),
}  # every other action field is text


def _texts(name: str, values: list[Any]) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise FieldError(name, "must be a list of texts")
    return values


def add_ticket_routes(
    app: web.Application,
    service: TicketService,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Register the ticket and report routes on ``app`` (its middleware does the token)."""
    now = clock or (lambda: datetime.now(UTC))

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)  # SQLAlchemy blocks

    async def report(request: web.Request) -> web.Response:
        period = Period.parse(request.query.get("from"), request.query.get("to"))
        return _json(await run(build_report, service.store.engine, period, now()))

    async def create(request: web.Request) -> web.Response:
        viewer = viewer_of(request)
        if viewer.is_unit:
            raise AccessDenied("tickets are created by the hotline, not by units")
        data = await _body(request)
        actor = data.pop("actor", "")
        draft = TicketDraft.from_json(data)
        rec = await run(service.create, draft, actor=actor, at=now())
        return _json(rec.to_json(), 201)

    async def listing(request: web.Request) -> web.Response:
        viewer, view = viewer_of(request), request.query.get("view", "open")
        if view == "overdue":
            found = await run(service.overdue, viewer, now())
        elif view == "due_soon":
            found = await run(service.due_soon, viewer, now())
        elif view in ("open", "all"):
            states = OPEN_STATES if view == "open" else None
            found = await run(service.tickets, viewer, states=states)
        else:
            raise FieldError("view", "give open, due_soon, overdue or all")
        return _json({"tickets": [t.to_json() for t in found]})

    async def repeats(request: web.Request) -> web.Response:
        caller = request.query.get("caller", "")
        check = await run(service.repeat_check, caller, viewer_of(request), now())
        return _json(check.to_json())

    async def get_ticket(request: web.Request) -> web.Response:
        rec = await run(service.get, request.match_info["number"], viewer_of(request))
        return _json(rec.to_json())

    async def events(request: web.Request) -> web.Response:
        evs = await run(service.events, request.match_info["number"], viewer_of(request))
        return _json({"events": [e.to_json() for e in evs]})

    async def linked(request: web.Request) -> web.Response:
        found = await run(service.linked, request.match_info["number"], viewer_of(request))
        return _json({"tickets": [t.to_json() for t in found]})

    async def act(request: web.Request) -> web.Response:
        action = action_from_json(await _body(request), now())
        number = request.match_info["number"]
        rec = await run(service.act, number, action, viewer_of(request))
        return _json(rec.to_json())

    async def link(request: web.Request) -> web.Response:
        data = await _body(request)
        unknown = sorted(set(data) - {"calls", "recordings"})
        if unknown:
            raise FieldError(unknown[0], "unknown field (known: calls, recordings)")
        calls = tuple(_texts("calls", _list(data, "calls")))
        recordings = tuple(_texts("recordings", _list(data, "recordings")))
        number = request.match_info["number"]
        rec = await run(
            service.link, number, viewer_of(request), calls=calls, recordings=recordings, at=now()
        )
        return _json(rec.to_json())

    async def notices(request: web.Request) -> web.Response:
        found = await run(service.notices, viewer_of(request))
        return _json({"notices": [n.to_json() for n in found]})

    async def issue(request: web.Request) -> web.Response:
        data = await _body(request)
        actor, note = data.get("actor", ""), data.get("note", "")
        found = await run(service.issue_supervision_notices, viewer_of(request), actor, note, now())
        return _json({"issued": [n.to_json() for n in found]})

    async def units(request: web.Request) -> web.Response:
        """The three rates per unit, ranked (``by``: score or one of the rates)."""
        if viewer_of(request).is_unit:
            raise AccessDenied("the ranking is for the hotline's supervisors")
        period = Period.parse(request.query.get("from"), request.query.get("to"))
        rates = await run(three_rates, service.store.engine, period, now())
        ranked = ranking(rates["units"], request.query.get("by", "score"))
        return _json({"overall": rates["overall"], "units": ranked})

    async def suggest(request: web.Request) -> web.Response:
        q = request.query
        found = await run(
            service.suggest_units, viewer_of(request), subject_code=q.get("subject_code", ""),
            address=q.get("address", ""), area=q.get("area", ""), at=now(),
        )  # fmt: skip
        return _json(found)

    async def merged(request: web.Request) -> web.Response:
        found = await run(service.merged_callers, request.match_info["number"], viewer_of(request))
        return _json({"tickets": [t.to_json() for t in found]})

    async def hotspots(request: web.Request) -> web.Response:
        return _json({"hotspots": banner(service.current_hotspots(now()))})

    r = app.router
    r.add_get("/api/v1/reports", _errors(report))
    r.add_get("/api/v1/reports/units", _errors(units))
    r.add_get("/api/v1/catalogue/suggest", _errors(suggest))
    r.add_get("/api/v1/hotspots", _errors(hotspots))
    r.add_post("/api/v1/tickets", _errors(create))
    r.add_get("/api/v1/tickets", _errors(listing))
    r.add_get("/api/v1/tickets/repeats", _errors(repeats))  # before {number}
    r.add_get("/api/v1/tickets/{number}", _errors(get_ticket))
    r.add_get("/api/v1/tickets/{number}/events", _errors(events))
    r.add_get("/api/v1/tickets/{number}/linked", _errors(linked))
    r.add_get("/api/v1/tickets/{number}/merged", _errors(merged))
    r.add_post("/api/v1/tickets/{number}/actions", _errors(act))
    r.add_post("/api/v1/tickets/{number}/links", _errors(link))
    r.add_get("/api/v1/supervision-notices", _errors(notices))
    r.add_post("/api/v1/supervision-notices", _errors(issue))


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise FieldError(key, "must be a list")
    return value
