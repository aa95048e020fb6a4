"""The web desktop under /desk/ on the engine's HTTP application: its parts and routes.

``guard`` sessions, roles, CSRF and headers; ``pages`` the server-rendered pages; ``calls`` the
JSON calls and the websocket; ``live`` the hub the websocket is fed from.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from hotline.acd.agents import AgentService
from hotline.acd.service import AcdService
from hotline.asterisk.webrtc import softphone_settings
from hotline.base.credentials import signing_key
from hotline.base.settings import Config
from hotline.base.web.guard import (
    PREFIX,
    SHELL_KEY,
    Shell,
    csrf_mw,
    headers_mw,
    redirect,
    session_mw,
)
from hotline.base.web.sessions import LoginLimits, SessionStore
from hotline.callcontrol.handled import HandledCalls
from hotline.callcontrol.http import (
    call_control,
    call_steps,
    chart_json,
    create_ticket,
    force,
    kb_search,
    me,
    seat_action,
    spy,
    threeway,
    wallboard_json,
    websocket,
)
from hotline.callcontrol.service import CallControl
from hotline.callcontrol.steps import StepRecorder, StepStore
from hotline.callcontrol.threeway import ThreeWayService
from hotline.calls.store import CallRecordStore
from hotline.desk.access import UserGate
from hotline.desk.dispatchview import catalogue_suggest, units_page
from hotline.desk.disputes import add_dispute_routes
from hotline.desk.guard import DESK_KEY, Desk
from hotline.desk.live import AmiSender, LiveHub
from hotline.desk.login_limits import LoginGuard, PasswordChecks
from hotline.desk.pages import (
    agent_page,
    login_page,
    login_submit,
    logout,
    root,
    set_lang,
    ticket_page,
    wallboard_page,
)
from hotline.desk.session_store import DeskSessions, RedisSessionBacking
from hotline.desk.softphone import add_softphone
from hotline.desk.users import UserStore
from hotline.followup.store import HandoffLog
from hotline.kb.service import KbStore
from hotline.tickets.service import TicketService
from hotline.wallboard.chart import ChartSource

HERE = Path(__file__).resolve().parent


def make_desk_app(desk: Desk) -> web.Application:
    app = web.Application(middlewares=[headers_mw, session_mw, csrf_mw], client_max_size=64 * 1024)
    app[DESK_KEY] = desk
    app[SHELL_KEY] = Shell(
        cfg=desk.cfg,
        session=desk.sessions.get,
        allows=desk.gate.allows,
        end=desk.gate.end,
        connect_origin=desk.softphone.origin if desk.softphone is not None else "",
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
    )
    r = app.router
    r.add_get("/", root)
    r.add_get("/login", login_page)
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout)
    r.add_post("/lang", set_lang)
    r.add_get("/agent", agent_page)
    r.add_get("/wallboard", wallboard_page)
    r.add_get("/tickets/{number}", ticket_page)
    r.add_get("/units", units_page)  # the three rates per unit, ranked (supervisors)
    r.add_get("/api/catalogue/suggest", catalogue_suggest)  # the ticket form's unit
    r.add_get("/api/me", me)
    r.add_get("/api/wallboard", wallboard_json)
    r.add_get("/api/wallboard/chart", chart_json)
    r.add_get("/api/kb", kb_search)
    r.add_post("/api/seat/{action}", seat_action)
    r.add_post("/api/agents/{agent_id}/{action}", force)
    r.add_post("/api/threeway/{action}", threeway)
    r.add_post("/api/call/{action}", call_control)
    r.add_get("/api/calls/{call_id}/steps", call_steps)
    r.add_post("/api/agents/{agent_id}/spy/{mode}", spy)
    r.add_post("/api/tickets", create_ticket)
    r.add_get("/ws", websocket)
    add_dispute_routes(app)  # 退单/改派, 并单, 双非 (issue 17)
    add_softphone(app, desk.softphone)  # webrtc: /api/softphone and SIP.js
    r.add_static("/static/", HERE / "static")

    async def close_sockets(_app: web.Application) -> None:
        # Open websockets would hold the engine's shutdown for aiohttp's shutdown time-out.
        for sub in list(desk.hub.subscribers):
            with contextlib.suppress(Exception):
                await sub.socket.close()
        await desk.hub.stop()

    async def watch_users(_app: web.Application) -> AsyncIterator[None]:
        watcher = asyncio.ensure_future(desk.gate.run())
        yield
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
        desk.checks.close()

    app.on_shutdown.append(close_sockets)
    app.cleanup_ctx.append(watch_users)
    return app


def build_desk(
    cfg: Config,
    *,
    agents: AgentService,
    acd: AcdService,
    tickets: TicketService,
    ami: AmiSender,
    status: Callable[[], dict[str, Any]],
    publish: Callable[[tuple[str, ...], dict[str, Any]], None] | None = None,
    redis: aioredis.Redis | None = None,
    handoffs: HandoffLog | None = None,
) -> Desk:
    """The desktop's parts; its hub starts observing the ACD's decisions at once."""
    hub = LiveHub(acd, tickets, ami, status)
    acd.observers.append(hub.observe)
    acd.notifier.speech_listeners.append(hub.speech_heard)
    store = StepStore(cfg.database_url)
    recorder = StepRecorder(store, hub.to_agent, publish)
    three = ThreeWayService(
        ami, acd, cfg.departments, hub.to_agent, steps=recorder,
        seat_of=lambda agent_id: logged_in_seat(acd, agent_id) or agents.seed(agent_id).dial_string,
        handoffs=handoffs,
    )  # fmt: skip
    records = CallRecordStore(cfg.database_url, cfg.spool_dir)
    chart = ChartSource(
        records.list_between,
        wrapup_s=cfg.acd.wrapup_s,
        calendar=tickets.settings.policy.calendar,  # the centre's one calendar
    )
    hub.on_tick.append(lambda: chart.sample(len(acd.acd.agents())))
    control = CallControl(
        ami, three, cfg.emergency, recorder, handoffs,
        rate_after_hangup=cfg.satisfaction.after_call,
    )  # fmt: skip
    acd.observers.append(control.observe)
    handled = HandledCalls(acd, records, store)
    acd.observers.append(handled.observe)
    web_cfg = cfg.web
    sessions = DeskSessions(
        SessionStore(time.time, web_cfg.session_idle_s, web_cfg.session_max_s),
        None
        if redis is None
        else RedisSessionBacking(redis, cfg.redis.key_prefix, signing_key=signing_key(cfg)),
    )
    limits = LoginLimits(
        base_s=web_cfg.login_backoff_base_s,
        cap_s=web_cfg.login_backoff_cap_s,
        window_s=web_cfg.login_window_s,
        free_pair=web_cfg.login_free_per_name_address,
        free_address=web_cfg.login_free_per_address,
        free_name=web_cfg.login_free_per_name,
    )
    guard = LoginGuard(limits, redis, cfg.redis.key_prefix)
    users = UserStore(cfg.database_url)
    gate = UserGate(
        users, sessions, hub, guard, redis, cfg.redis.key_prefix, recheck_s=web_cfg.user_recheck_s
    )
    return Desk(
        cfg=web_cfg,
        sessions=sessions,
        guard=guard,
        checks=PasswordChecks(
            web_cfg.login_workers, web_cfg.login_queue, web_cfg.login_per_address
        ),
        gate=gate,
        handled=handled,
        users=users,
        agents=agents,
        tickets=tickets,
        hub=hub,
        threeway=three,
        control=control,
        steps=store,
        chart=chart,
        kb=KbStore(cfg.database_url),
        softphone=softphone_settings(cfg),
        followups=handoffs.store if handoffs is not None else None,
    )


def add_desktop(
    root_app: web.Application,
    desk: Desk,
    extra: Callable[[web.Application], None] | None = None,
) -> None:
    """Mount the desktop at /desk/ on the engine's HTTP application ("/" leads there).
    ``extra`` adds other features' pages to it (e.g. the voicemail review), under the same
    guards."""

    async def to_desk(_request: web.Request) -> web.StreamResponse:
        return redirect(f"{PREFIX}/")

    root_app.router.add_get("/", to_desk)
    sub = make_desk_app(desk)
    if extra is not None:
        extra(sub)
    root_app.add_subapp(PREFIX, sub)


def logged_in_seat(acd: AcdService, agent_id: str) -> str | None:
    """The seat the agent logged in at (a transfer rings the phone the agent is at)."""
    view = acd.acd.agent(agent_id)
    return None if view is None else view.seat
