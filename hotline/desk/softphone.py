"""The agent page's WebRTC softphone: its settings for the browser, and SIP.js served from here.

The page's script (static/softphone.js) asks ``/desk/api/softphone`` for where to register
(Asterisk's SIP WebSocket, ``[webrtc]``) and as whom: the agent's own browser seat
``PJSIP/webrtc-<id>`` and that endpoint's generated password. Only the agent's own session gets
it, never cached (the desktop's no-store header); the desk phone's password is another one and
never leaves the server. SIP.js (npm, installed by setup into hotline/desk/vendor/) is served
under ``/desk/vendor/sip.js/``, no CDN; without it the page says the softphone is not installed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from hotline.asterisk.webrtc import SoftphoneSettings
from hotline.base.settings import browser_seat
from hotline.desk.guard import PREFIX, allow, error, session_of

VENDOR = Path(__file__).resolve().parent / "vendor" / "node_modules"
SIPJS = VENDOR / "sip.js" / "lib"


SOFTPHONE_KEY = web.AppKey("softphone", SoftphoneSettings)


@allow("agent")
async def softphone_config(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict.get(SOFTPHONE_KEY)
    agent_id = session_of(request).agent_id
    if settings is None:
        return error(
            404, "the browser softphone is off (webrtc.enabled = false)", code="softphone_off"
        )
    if not agent_id:
        return error(403, "this user has no agent seat", code="no_seat")
    if not SIPJS.is_dir():
        return error(503, "SIP.js is not installed (make setup)", code="softphone_missing")
    seat = browser_seat(agent_id)
    user = seat.split("/", 1)[1]
    host = urlsplit(settings.ws_url).hostname or "127.0.0.1"
    return web.json_response(
        {
            "ws_url": settings.ws_url,
            "seat": seat,
            "uri": f"sip:{user}@{host}",
            "user": user,
            "password": settings.password_of(agent_id),
            "library": f"{PREFIX}/vendor/sip.js/index.js",
        }
    )


def add_softphone(app: web.Application, settings: SoftphoneSettings | None) -> None:
    """The settings call and SIP.js on the desktop (before its /static/ route)."""
    if settings is not None:
        app[SOFTPHONE_KEY] = settings
    app.router.add_get("/api/softphone", softphone_config)
    if SIPJS.is_dir():
        app.router.add_static("/vendor/sip.js/", SIPJS)
