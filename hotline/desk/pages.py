"""The desktop's pages: log-in and log-out, language, the agent page, the wallboard, a ticket."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aiohttp import web

from hotline.acd.agents import UnknownAgent
from hotline.base.i18n import pick_lang
from hotline.base.web.guard import (
    LANG_COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    allow,
    client_address,
    redirect,
    render,
    session_of,
    set_cookie,
)
from hotline.base.web.security import new_token
from hotline.desk.disputes import MERGE_FROM, dispute_panel, unit_tickets, viewer_of
from hotline.desk.guard import DESK_KEY, REASONS, Desk
from hotline.desk.login_limits import Busy
from hotline.desk.ticketview import deadline, event_lines, subject_words, when
from hotline.tickets.values import TICKET_CATEGORIES, FieldError
from hotline.wallboard.rules import SERVICE_LEVEL_GOAL

log = logging.getLogger(__name__)


async def root(request: web.Request) -> web.StreamResponse:
    role = session_of(request).role
    if role == "agent":
        return redirect(f"{PREFIX}/agent")
    if role in ("supervisor", "admin"):
        return redirect(f"{PREFIX}/wallboard")
    if role == "reviewer":
        return redirect(f"{PREFIX}/review")  # the night-shift voicemail review
    if role == "unit":  # its own open orders, each a link to its page (sign, dispute...)
        desk: Desk = request.config_dict[DESK_KEY]
        rows = await asyncio.to_thread(unit_tickets, desk, session_of(request))
        return render(request, "home.html.j2", {"unit_tickets": rows})
    return render(request, "home.html.j2", {})


async def login_page(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    token = new_token()
    context = {"login_csrf": token, "error": "", "name": "", "wait_s": 0}
    response = render(request, "login.html.j2", context)
    set_cookie(response, request, desk.cfg, LOGIN_COOKIE, token)
    if "lang" in request.query:
        set_cookie(response, request, desk.cfg, LANG_COOKIE, pick_lang(request.query["lang"]))
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    form = await request.post()
    name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))
    address = client_address(request, desk.cfg)
    # Delays come before the password check: a flood that is held back costs no argon2.
    wait_s = await desk.guard.wait_s(address, name)
    if wait_s > 0:
        return _login_again(request, desk, name, 429, "login_wait", math.ceil(wait_s))
    try:
        user = await desk.checks.run(address, desk.users.authenticate, name, password)
    except Busy as exc:
        return _login_again(request, desk, name, exc.status, "login_busy", 1)
    if user is None:
        await desk.guard.failed(address, name)
        return _login_again(request, desk, name, 401, "bad_login")
    await desk.guard.succeeded(address, name)
    lang = pick_lang(request.cookies.get(LANG_COOKIE), desk.cfg.lang)
    session = await desk.sessions.open(
        user.name, user.role, user.agent_id, user.unit, lang, stamp=user.stamp
    )
    response = redirect(f"{PREFIX}/")
    set_cookie(response, request, desk.cfg, SESSION_COOKIE, session.sid)
    response.del_cookie(LOGIN_COOKIE, path=PREFIX)
    log.info("desktop: %s logged in as %s", user.name, user.role)
    return response


def _login_again(
    request: web.Request,
    desk: Desk,
    name: str,
    status: int,
    why: str,
    retry_after_s: int | None = None,
) -> web.Response:
    """The log-in form again with why (wrong password, wait N s, busy); a fresh form token."""
    token = new_token()
    context = {"login_csrf": token, "error": why, "name": name, "wait_s": retry_after_s or 0}
    response = render(request, "login.html.j2", context, status)
    set_cookie(response, request, desk.cfg, LOGIN_COOKIE, token)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    await desk.gate.end(session_of(request).sid)  # its websockets close now
    response = redirect(f"{PREFIX}/login")
    response.del_cookie(SESSION_COOKIE, path=PREFIX)
    return response


async def set_lang(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    form = await request.post()
    lang = pick_lang(str(form.get("lang", "")))
    await desk.sessions.set_lang(session_of(request).sid, lang)
    back = str(request.headers.get("Referer") or f"{PREFIX}/")
    parts = urlsplit(back)
    # Back to the page the switch was on, never to another site.
    same_site = parts.netloc in ("", request.host) and parts.path.startswith(PREFIX)
    response = redirect(parts.path if same_site else f"{PREFIX}/")
    set_cookie(response, request, desk.cfg, LANG_COOKIE, lang)
    return response


@allow("agent")
async def agent_page(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    session = session_of(request)
    try:
        seat = desk.agents.seed(session.agent_id).dial_string if session.agent_id else ""
    except UnknownAgent:  # the user was made for an agent since removed from the configuration
        problem = (
            f"this user's agent {session.agent_id!r} is not in the configuration "
            "([[agents]]); ask an administrator"
        )
        return render(
            request, "forbidden.html.j2", {"problem": problem, "problem_status": 409}, status=409
        )
    # The subject tree: codes such as 02.01 sit under 02 (depth = number of dots).
    subjects = [
        (code, name, code.count("."))
        for code, name in sorted(desk.tickets.settings.subjects.names.items())
    ]
    return render(
        request,
        "agent.html.j2",
        {
            "seat": seat,
            "reasons": REASONS,
            "categories": TICKET_CATEGORIES,
            "subjects": subjects,
            "departments": desk.threeway.directory(),
            "agents": desk.threeway.other_agents(session.agent_id or ""),
            "emergency": desk.control.emergency_numbers(),
        },
    )


@allow("supervisor", "admin")
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    # Listen, whisper and barge ring the supervisor's own phone: none without one.
    context = {"has_phone": bool(session_of(request).agent_id), "sl_goal": SERVICE_LEVEL_GOAL}
    return render(request, "wallboard.html.j2", context)


@allow("agent", "supervisor", "admin", "reviewer", "unit")
async def ticket_page(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    viewer = viewer_of(session_of(request))
    try:
        ticket = await asyncio.to_thread(desk.tickets.get, request.match_info["number"], viewer)
    except (LookupError, FieldError):
        return render(request, "forbidden.html.j2", {"not_found": True}, status=404)
    # The call steps (hold, transfers, three-way, emergency transfer) of the ticket's calls:
    # the ticket shows how each of its calls was handled. Units see the order, not the calls.
    steps = []
    show_calls = session_of(request).role != "unit"
    if show_calls:
        for call_id in ticket.calls:
            steps += await asyncio.to_thread(desk.steps.of_call, call_id)
    events = await asyncio.to_thread(desk.tickets.events, ticket.number, viewer)
    # 并单: every caller merged into this ticket is kept and listed (platform staff only).
    merged = await asyncio.to_thread(desk.tickets.merged_callers, ticket.number, viewer)
    settings = desk.tickets.settings
    due = deadline(
        ticket,
        datetime.now(UTC),
        lambda at, now: settings.policy.due_status(at, now, settings.due_soon_workdays),
    )
    session = session_of(request)
    role = session.role
    from_110 = {}
    if show_calls and desk.followups is not None:
        from_110 = await asyncio.to_thread(desk.followups.from_110, ticket.calls)
    context = {
        "ticket": ticket,
        "role": role,
        # The unit's dispute button, with why it is off; the platform's merge and 双非 forms.
        "dispute": dispute_panel(ticket, session.unit, datetime.now(UTC))
        if role == "unit"
        else None,
        "may_merge": role in ("agent", "supervisor", "admin")
        and ticket.state in MERGE_FROM
        and not merged,
        "from_110": sorted(from_110.items()),
        "may_judge": role in ("supervisor", "admin"),
        "steps": steps,
        "show_calls": show_calls,  # the page's script adds each call's recordings (if allowed)
        "subject": subject_words(ticket.subject_code, settings.subjects.names),
        "created": when(ticket.created_at),
        "due": due,
        "events": event_lines(events),
        "merged": merged,
        "st_when": when,
    }
    return render(request, "ticket.html.j2", context)
