"""The desktop's guards and shared helpers: who is asking (sessions), may they (roles), is the
request really theirs (CSRF token, Origin), and the headers every answer carries.

Every route but the log-in page and the static files needs a session: pages redirect to the
log-in page, calls and the websocket answer 401. Every request re-reads the session's user
(hotline/desk/access.py): a disabled user, or one whose password was reset since, is logged out.
Every state-changing request (POST, PUT, PATCH, DELETE) needs the session's CSRF token, in the
``X-CSRF-Token`` header (fetch calls) or the ``csrf_token`` form field; the log-in form uses a
pre-session token kept in its own cookie.
A request whose Origin is another site is refused before anything else (the websocket too).
Each page and call lists the roles that may use it; another role gets 403. Templates autoescape
everything; pages carry a Content-Security-Policy that allows scripts from this server only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from hotline.acd.agents import AgentService
from hotline.acd.staffing import CENTRE_TZ
from hotline.asterisk.webrtc import SoftphoneSettings
from hotline.base.i18n import LANGS, catalogue, pick_lang, translate
from hotline.base.settings import WebConfig
from hotline.base.web.security import tokens_match
from hotline.base.web.sessions import Session
from hotline.callcontrol.handled import HandledCalls
from hotline.callcontrol.service import CallControl
from hotline.callcontrol.steps import StepStore
from hotline.callcontrol.threeway import ThreeWayService
from hotline.desk.access import UserGate
from hotline.desk.live import LiveHub
from hotline.desk.login_limits import LoginGuard, PasswordChecks
from hotline.desk.session_store import DeskSessions
from hotline.desk.users import UserStore
from hotline.kb.service import KbStore
from hotline.tickets.service import TicketService
from hotline.wallboard.chart import ChartSource

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PREFIX = "/desk"
SESSION_COOKIE = "hl_session"
LOGIN_COOKIE = "hl_login"
LANG_COOKIE = "hl_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC = ("/desk/login", "/desk/static/")
REASONS = ("break", "meeting", "training", "admin")  # why an agent is not ready
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)


@dataclass
class Desk:
    """What the handlers need, shared by the sub-application."""

    cfg: WebConfig
    sessions: DeskSessions
    users: UserStore
    agents: AgentService
    tickets: TicketService
    hub: LiveHub
    threeway: ThreeWayService
    control: CallControl
    steps: StepStore
    chart: ChartSource
    kb: KbStore
    guard: LoginGuard  # log-in delays per address and name
    checks: PasswordChecks  # password checks in their own bounded executor
    gate: UserGate  # sessions end when their user is disabled or its password reset
    handled: HandledCalls  # the calls each agent handled (the only ones it may link)
    softphone: SoftphoneSettings | None = None  # webrtc: the agent page's softphone


DESK_KEY = web.AppKey("desk", Desk)


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


# -- helpers ---------------------------------------------------------------------------------
def session_of(request: web.Request) -> Session:
    session: Session = request["session"]
    return session


def lang_of(request: web.Request) -> str:
    session: Session | None = request.get("session")
    if session is not None:
        return session.lang
    desk: Desk = request.config_dict[DESK_KEY]
    return pick_lang(request.cookies.get(LANG_COOKIE), desk.cfg.lang)


# The code of an error the caller gave none: the page translates err_<code> (hotline/base/i18n.py)
# and shows the English text only for a code it does not know.
STATUS_CODES = {400: "bad_field", 401: "forbidden", 403: "forbidden", 404: "not_found",
                409: "call_state", 503: "unavailable"}  # fmt: skip


def error(status: int, message: str, *, code: str = "", **extra: Any) -> web.Response:
    code = code or STATUS_CODES.get(status, "unavailable")
    return web.json_response({"error": message, "code": code, **extra}, status=status)


def _secure(request: web.Request, cfg: WebConfig) -> bool:
    return request.secure if cfg.cookie_secure is None else cfg.cookie_secure


def set_cookie(
    response: web.StreamResponse, request: web.Request, cfg: WebConfig, name: str, value: str
) -> None:
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="Strict",
        secure=_secure(request, cfg),
    )


def client_address(request: web.Request, cfg: WebConfig) -> str:
    """The client's address; behind a trusted proxy, the last hop it did not add itself."""
    remote = request.remote or ""
    if remote not in cfg.trusted_proxies:
        return remote
    hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
    for hop in reversed([h.strip() for h in hops if h.strip()]):
        if hop not in cfg.trusted_proxies:
            return hop[:64]
    return remote


def same_origin(request: web.Request) -> bool:
    """No Origin (same-origin navigation in some browsers, scripts) or this very host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


def allow(*roles: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            if session_of(request).role not in roles:
                if request.path.startswith(f"{PREFIX}/api/"):
                    return error(403, "forbidden for your role")
                return render(request, "forbidden.html.j2", {}, status=403)
            return await handler(request)

        return checked

    return wrap


def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    lang = lang_of(request)
    session: Session | None = request.get("session")
    base = {
        "t": lambda key: translate(lang, key),
        "lang": lang,
        "other_lang": next(x for x in LANGS if x != lang),
        "session": session,
        "csrf": session.csrf if session is not None else "",
        "catalogue": catalogue(lang),
        "prefix": PREFIX,
        "tz": CENTRE_TZ.key,  # the page shows times in the centre's zone, not the browser's
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)


# -- middlewares -----------------------------------------------------------------------------
@web.middleware
async def headers_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        desk: Desk = request.config_dict[DESK_KEY]
        # The softphone (webrtc) registers over Asterisk's WebSocket, another origin.
        extra = f" {desk.softphone.origin}" if desk.softphone is not None else ""
        csp = CSP.replace("connect-src 'self'", f"connect-src 'self'{extra}")
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith(f"{PREFIX}/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def session_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    session = await desk.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is not None and not request.path.startswith(PUBLIC):
        # Every request re-checks the user: disabled or a new password ends the session here.
        if not await desk.gate.allows(session):
            await desk.gate.end(session.sid)
            session = None
    if session is not None:
        request["session"] = session
    elif not request.path.startswith(PUBLIC):
        if request.path.startswith((f"{PREFIX}/api/", f"{PREFIX}/ws")):
            return error(401, "log in first")
        if request.method in SAFE_METHODS:
            return redirect(f"{PREFIX}/login")
        return error(401, "log in first")
    return await handler(request)


@web.middleware
async def csrf_mw(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS:
        if request.path == f"{PREFIX}/ws" and not same_origin(request):
            return error(403, "cross-site websocket refused")
        return await handler(request)
    if not same_origin(request):
        return error(403, "cross-site request refused")
    given = request.headers.get("X-CSRF-Token")
    if given is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    session: Session | None = request.get("session")
    if request.path == f"{PREFIX}/login":
        expected = request.cookies.get(LOGIN_COOKIE, "")
    else:
        expected = session.csrf if session is not None else ""
    if not tokens_match(expected, given):
        if request.path.startswith(f"{PREFIX}/api/"):
            return error(403, "missing or wrong CSRF token")
        return web.Response(status=403, text="403: missing or wrong CSRF token")
    return await handler(request)
