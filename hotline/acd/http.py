"""HTTP resources: the agent API and the engine status (JSON, bearer token).

The web desktop (login with passwords, roles, CSRF) builds on these services later; this API is
for the softphone integration, scripts and tests, and listens on loopback by default.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import Any

from aiohttp import web

from hotline.acd.agents import AgentService, UnknownAgent, UnknownSeat
from hotline.acd.core import AcdError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StatusProvider = Callable[[], dict[str, Any]]

_REASON = re.compile(r"^[\w\- .:]{1,64}$")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=_enc))


def _enc(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status=status)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object ({} without a body); 400 with a JSON error otherwise."""
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise web.HTTPBadRequest(
            text='{"error": "body is not JSON (or nested too deeply)"}',
            content_type="application/json",
        ) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return data


def make_app(token: str, agents: AgentService, status: StatusProvider) -> web.Application:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The web desktop (/desk/, agents/web) has its own log-in, sessions and CSRF checks.
        if request.path == "/healthz" or not request.path.startswith("/api/"):
            return await handler(request)
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _error(401, "missing or wrong bearer token")
        try:
            return await handler(request)
        except UnknownAgent as exc:
            return _error(404, str(exc))
        except UnknownSeat as exc:
            return _error(400, str(exc))
        except AcdError as exc:
            return _error(409, str(exc))

    async def healthz(_request: web.Request) -> web.Response:
        return _json({"ok": True})

    async def get_status(_request: web.Request) -> web.Response:
        return _json(status())

    async def login(request: web.Request) -> web.Response:
        data = await json_body(request)
        seat = data.get("seat")
        if seat is not None and not isinstance(seat, str):
            return _error(400, "seat must be a string")
        await agents.login(request.match_info["agent_id"], seat)
        return _json({"ok": True})

    async def ready(request: web.Request) -> web.Response:
        await agents.ready(request.match_info["agent_id"])
        return _json({"ok": True})

    async def not_ready(request: web.Request) -> web.Response:
        reason = (await json_body(request)).get("reason", "break")
        if not isinstance(reason, str) or not _REASON.match(reason):
            return _error(400, "reason must be 1-64 letters, digits, spaces or -_.:")
        await agents.not_ready(request.match_info["agent_id"], reason)
        return _json({"ok": True})

    async def logout(request: web.Request) -> web.Response:
        await agents.logout(request.match_info["agent_id"])
        return _json({"ok": True})

    app = web.Application(middlewares=[auth], client_max_size=64 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/status", get_status)
    app.router.add_post("/api/v1/agents/{agent_id}/login", login)
    app.router.add_post("/api/v1/agents/{agent_id}/ready", ready)
    app.router.add_post("/api/v1/agents/{agent_id}/not-ready", not_ready)
    app.router.add_post("/api/v1/agents/{agent_id}/logout", logout)
    return app
