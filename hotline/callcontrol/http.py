"""The desktop's calls (JSON, CSRF-checked) and its websocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy.exc import SQLAlchemyError

from hotline.acd.agents import UnknownAgent, UnknownSeat
from hotline.acd.core import AcdError
from hotline.acd.http import json_body
from hotline.asterisk.ami.client import AmiActionError
from hotline.base.daytypes import CENTRE_TZ
from hotline.base.settings import browser_seat
from hotline.base.web.guard import PREFIX, allow, error, session_of
from hotline.callcontrol.threeway import ThreeWayError
from hotline.desk.guard import DESK_KEY, REASONS, Desk
from hotline.desk.live import Subscriber
from hotline.tickets.values import AccessDenied, FieldError, TicketDraft

log = logging.getLogger(__name__)


TICKET_FIELDS = ("category", "subject_code", "description", "caller_name", "caller_number",
                 "contact", "address", "confidential", "area")  # fmt: skip
_CALL_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def _call_code(exc: Exception) -> str:
    """The code the page translates (err_<code> in hotline/base/i18n.py)."""
    return "not_on_call" if "not on a call" in str(exc) else "call_state"


async def _acd_call(action: Awaitable[None]) -> web.Response:
    try:
        await action
    except UnknownAgent as exc:
        return error(404, str(exc), code="unknown_agent")
    except UnknownSeat as exc:  # the browser seat with webrtc.enabled = false
        return error(409, str(exc), code="unknown_seat")
    except AcdError as exc:
        return error(409, str(exc), code="acd_refused")
    return web.json_response({"ok": True})


@allow("agent")
async def seat_action(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    agent_id = session_of(request).agent_id
    if not agent_id:
        return error(403, "this user has no agent seat", code="no_seat")
    response = await _seat_action(desk, agent_id, request)
    # A change may not move the state (not ready during a call waits for its end): the page
    # gets the agent's state either way.
    desk.hub.to_agent(agent_id, desk.hub.agent_state(agent_id))
    return response


async def _seat_action(desk: Desk, agent_id: str, request: web.Request) -> web.Response:
    what = request.match_info["action"]
    if what == "login":
        # webrtc: {"seat": "browser"} logs in at the agent's browser seat (the softphone panel).
        seat = (await json_body(request)).get("seat")
        if seat not in (None, "browser"):
            return error(400, 'seat must be "browser" or left out', field="seat")
        at = browser_seat(agent_id) if seat == "browser" else None
        return await _acd_call(desk.agents.login(agent_id, at))
    if what == "ready":
        return await _acd_call(desk.agents.ready(agent_id))
    if what == "not-ready":
        reason = (await json_body(request)).get("reason", "break")
        if reason not in REASONS:
            reasons = ", ".join(REASONS)
            return error(400, f"reason must be one of {reasons}", field="reason", code="bad_reason")
        return await _acd_call(desk.agents.not_ready(agent_id, str(reason)))
    if what == "logout":
        return await _acd_call(desk.agents.logout(agent_id))
    return error(404, "no such seat action")


@allow("agent")
async def threeway(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    agent_id = session_of(request).agent_id
    if not agent_id:
        return error(403, "this user has no agent seat", code="no_seat")
    what = request.match_info["action"]
    try:
        if what == "start":
            number = (await json_body(request)).get("department", "")
            call = await desk.threeway.start(agent_id, str(number))
        elif what == "consult":  # attended transfer: talk to the target first
            number = (await json_body(request)).get("department", "")
            call = await desk.threeway.start(agent_id, str(number), consult=True)
        elif what == "leave":
            call = await desk.threeway.leave(agent_id)
        elif what == "drop":
            call = await desk.threeway.drop(agent_id)
        elif what == "complete":
            call = await desk.threeway.complete(agent_id)
        elif what == "cancel":
            call = await desk.threeway.cancel(agent_id)
        else:
            return error(404, "no such three-way action")
    except ThreeWayError as exc:
        return error(409, str(exc), code=_call_code(exc))
    except AmiActionError as exc:
        return error(503, f"Asterisk refused: {exc}", code="asterisk")
    return web.json_response(call.to_json())


@allow("agent")
async def call_control(request: web.Request) -> web.StreamResponse:
    """Hold, resume, hang-up, blind transfer and emergency transfer of the agent's call."""
    desk: Desk = request.config_dict[DESK_KEY]
    agent_id = session_of(request).agent_id
    if not agent_id:
        return error(403, "this user has no agent seat", code="no_seat")
    what = request.match_info["action"]
    control = desk.control
    try:
        if what == "hold":
            result = await control.hold(agent_id)
        elif what == "resume":
            result = await control.resume(agent_id)
        elif what == "hangup":
            result = await control.hangup(agent_id)
        elif what == "transfer":
            number = (await json_body(request)).get("department", "")
            result = await control.transfer(agent_id, str(number))
        elif what == "emergency":
            body = await json_body(request)
            reason = body.get("reason", "")  # why (the handoff record); free text, optional
            result = await control.emergency(
                agent_id, str(body.get("number", "")), str(reason) if reason else ""
            )
        else:
            return error(404, "no such call action")
    except ThreeWayError as exc:
        return error(409, str(exc), code=_call_code(exc))
    except AmiActionError as exc:
        return error(503, f"Asterisk refused: {exc}", code="asterisk")
    return web.json_response(result)


@allow("supervisor", "admin")
async def spy(request: web.Request) -> web.StreamResponse:
    """Listen, whisper or barge on an agent's call from the supervisor's own phone."""
    desk: Desk = request.config_dict[DESK_KEY]
    session = session_of(request)
    if not session.agent_id:
        return error(
            409,
            "your user has no phone: give it a seat (hotline user edit NAME --agent ID)",
            code="no_phone",
        )
    agent_id, mode = request.match_info["agent_id"], request.match_info["mode"]
    try:
        phone = desk.agents.seed(session.agent_id).dial_string
        result = await desk.control.spy(session.user, phone, agent_id, mode)
    except UnknownAgent as exc:
        return error(404, str(exc))
    except ThreeWayError as exc:
        return error(409, str(exc), code=_call_code(exc))
    except AmiActionError as exc:
        return error(503, f"Asterisk refused: {exc}", code="asterisk")
    log.info("desktop: %s %s on agent %s", session.user, mode, agent_id)
    return web.json_response(result)


@allow("agent", "supervisor", "admin")
async def call_steps(request: web.Request) -> web.StreamResponse:
    """The steps taken on a call; an agent sees only calls it took part in."""
    desk: Desk = request.config_dict[DESK_KEY]
    call_id = request.match_info["call_id"]
    if not _CALL_ID.match(call_id):
        return error(400, "not a call id", field="call_id")
    steps = await asyncio.to_thread(desk.steps.of_call, call_id)
    session = session_of(request)
    if session.role == "agent" and not any(s.agent_id == session.agent_id for s in steps):
        return error(404, "no such call")
    return web.json_response({"call_id": call_id, "steps": [s.to_json() for s in steps]})


@allow("supervisor", "admin")
async def force(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    agent_id, what = request.match_info["agent_id"], request.match_info["action"]
    log.info("desktop: %s forces agent %s: %s", session_of(request).user, agent_id, what)
    if what == "not-ready":
        return await _acd_call(desk.agents.not_ready(agent_id, "supervisor"))
    if what == "logout":
        return await _acd_call(desk.agents.logout(agent_id))
    return error(404, "no such action")


@allow("supervisor", "admin")
async def wallboard_json(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    return web.json_response(desk.hub.wallboard(), dumps=lambda d: json.dumps(d, default=str))


@allow("supervisor", "admin")
async def chart_json(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    return web.json_response(await desk.chart.build())


@allow("agent", "supervisor", "admin", "reviewer")
async def kb_search(request: web.Request) -> web.StreamResponse:
    """Knowledge-base articles for the words in ``q``, best first, stale ones flagged."""
    desk: Desk = request.config_dict[DESK_KEY]
    query = request.query.get("q", "")
    if len(query) > 200:
        return error(400, "q: at most 200 characters", field="q")
    found = await asyncio.to_thread(desk.kb.search, query)
    today = datetime.now(CENTRE_TZ).date()
    return web.json_response(
        {"query": query, "articles": [a.to_json(today) for a in found]},
        dumps=lambda d: json.dumps(d, ensure_ascii=False),
    )


async def me(request: web.Request) -> web.StreamResponse:
    s = session_of(request)
    return web.json_response(
        {"user": s.user, "role": s.role, "agent_id": s.agent_id, "unit": s.unit, "lang": s.lang}
    )


def draft_from(data: dict[str, Any]) -> tuple[TicketDraft, str]:
    """The ticket form (JSON) -> a draft linked to the call it was filed during."""
    unknown = sorted(set(data) - {*TICKET_FIELDS, "call_id"})
    if unknown:
        raise FieldError(unknown[0], "unknown field")
    call_id = data.get("call_id") or ""
    if call_id and (not isinstance(call_id, str) or not _CALL_ID.match(call_id)):
        raise FieldError("call_id", "not a call id")
    fields = {k: v for k, v in data.items() if k in TICKET_FIELDS}
    fields.setdefault("channel", "phone")
    if call_id:
        fields["calls"] = [call_id]
    return TicketDraft.from_json(fields), str(call_id)


@allow("agent", "supervisor")
async def create_ticket(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    session = session_of(request)
    try:
        draft, call_id = draft_from(await json_body(request))
        if call_id and session.role == "agent":
            try:
                handled = await desk.handled.by(session.agent_id or "", call_id)
            except SQLAlchemyError as exc:
                log.warning("calls of %s not checked: %s", session.agent_id, exc)
                return error(503, "call records unavailable; try again")
            if not handled:
                # Linking puts the call's record and recordings in the ticket: only your own.
                return error(403, "call_id: not a call you handled", field="call_id")
        actor = session.agent_id or session.user
        rec = await asyncio.to_thread(desk.tickets.create, draft, actor=actor)
    except FieldError as exc:
        return error(400, str(exc), field=exc.field)
    except AccessDenied as exc:
        return error(403, str(exc))
    return web.json_response(
        {"number": rec.number, "url": f"{PREFIX}/tickets/{rec.number}"}, status=201
    )


async def websocket(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=4096)
    await ws.prepare(request)
    sub = Subscriber(session_of(request), ws)
    desk.hub.add(sub)
    writer = asyncio.ensure_future(desk.hub.pump(sub))
    try:
        async for msg in ws:  # the page only listens; anything it sends is ignored
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        desk.hub.remove(sub)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
    return ws
