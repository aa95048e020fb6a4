"""The night-shift review page of the web desktop (``/desk/review``): voicemails waiting,
oldest first, each with caller, time, IVR path, transcript, an audio player, its deadline
(late ones highlighted) and the callback attempts; the reviewer corrects the transcript and
classifies it, accepts it (optionally dispatching it to a unit), dismisses it with a reason, or
clicks "call back" (their own seat rings first, then the citizen).

The desktop's guards apply (session, role, CSRF on every form): reviewers, supervisors and
admins only. Every action is a ticket action through TicketService, so it is on the ticket's
event log with the reviewer's name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from hotline.base.web.sessions import Session
from hotline.desk.guard import DESK_KEY, PREFIX, Desk, allow, redirect, render, session_of
from hotline.quality.pages import add_quality_pages
from hotline.recordings.access import Requester
from hotline.recordings.http import add_recording_routes
from hotline.recordings.service import RecordingService
from hotline.tickets.lifecycle import AcceptVoicemail, Action, DismissVoicemail, Dispatch
from hotline.tickets.values import TICKET_CATEGORIES, FieldError, Viewer
from hotline.tickets.workdays import SHANGHAI
from hotline.voicemail.review_service import ReviewError, VoicemailReview

log = logging.getLogger(__name__)
REVIEW_KEY = web.AppKey("review", VoicemailReview)
RECORDINGS_KEY = web.AppKey("recordings", RecordingService)
ROLES = ("reviewer", "supervisor", "admin")
# The review acts as the platform's dispatcher (accepting and dispatching orders is theirs).
DISPATCHER = Viewer(role="dispatcher")

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "夜间留言复核",
        "empty": "没有待复核的留言。",
        "left": "留言时间",
        "due": "复核期限",
        "late": "已超时",
        "emergency": "紧急（突发）",
        "path": "语音导航路径",
        "transcript": "转写文本",
        "play": "收听",
        "accept": "受理",
        "dispatch_to": "派发单位（可选）",
        "dismiss": "不予受理",
        "reason": "原因",
        "call_back": "回拨",
        "attempts": "回拨记录",
        "unreachable": "无法联系",
        "no_seat": "您的账号没有绑定坐席电话，无法回拨。",
        "done": "已处理",
        "error": "操作失败",
    },
    "en": {
        "title": "Night-shift voicemail review",
        "empty": "No voicemail waiting for review.",
        "left": "Left at",
        "due": "Review by",
        "late": "late",
        "emergency": "emergency",
        "path": "IVR path",
        "transcript": "Transcript",
        "play": "Listen",
        "accept": "Accept",
        "dispatch_to": "Dispatch to unit (optional)",
        "dismiss": "Dismiss",
        "reason": "Reason",
        "call_back": "Call back",
        "attempts": "Callback attempts",
        "unreachable": "unreachable",
        "no_seat": "Your account has no seat phone to call back from.",
        "done": "Done",
        "error": "Failed",
    },
}


def _text(lang: str) -> Callable[[str], str]:
    table = TEXT.get(lang, TEXT["zh"])
    return lambda key: table.get(key, TEXT["zh"].get(key, key))


def _review(request: web.Request) -> VoicemailReview:
    return request.config_dict[REVIEW_KEY]


def _back(note: str = "") -> web.Response:
    return redirect(f"{PREFIX}/review" + (f"?note={note}" if note else ""))


@allow(*ROLES)
async def review_page(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    items = await _review(request).queue()
    who = _requester(session_of(request))
    audio = await asyncio.to_thread(_voicemail_audio, request.config_dict[RECORDINGS_KEY], who,
                                    [i.call_id for i in items])  # fmt: skip
    subjects = sorted(desk.tickets.settings.subjects.names.items())
    note = request.query.get("note", "")
    return render(
        request,
        "review.html.j2",
        {
            "items": items,
            "rt": _text(session_of(request).lang),
            "categories": TICKET_CATEGORIES,
            "subjects": subjects,
            "note": note if note in ("done", "error", "no_seat") else "",
            "audio": audio,
            "when": lambda at: at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
        },
    )


async def _act(request: web.Request, action: Action) -> bool:
    desk: Desk = request.config_dict[DESK_KEY]
    try:
        await asyncio.to_thread(desk.tickets.act, request.match_info["number"], action, DISPATCHER)
    except (LookupError, ValueError) as exc:  # unknown, illegal transition, bad field
        log.info("review action refused for %s: %s", request.match_info["number"], exc)
        return False
    return True


def _now() -> datetime:
    return datetime.now(UTC)


@allow(*ROLES)
async def review_accept(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    actor = session_of(request).user
    try:
        accept = AcceptVoicemail(
            actor=actor,
            at=_now(),
            description=str(form.get("description", ""))[:4000],
            category=str(form.get("category", ""))[:32],
            subject_code=str(form.get("subject_code", ""))[:32],
        )
        unit = str(form.get("unit", "")).strip()[:64]
        dispatch = Dispatch(actor=actor, at=_now(), unit=unit) if unit else None
    except (ValueError, FieldError):
        return _back("error")
    if not await _act(request, accept):
        return _back("error")
    if dispatch is not None and not await _act(request, dispatch):
        return _back("error")
    return _back("done")


@allow(*ROLES)
async def review_dismiss(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        action = DismissVoicemail(
            actor=session_of(request).user,
            at=_now(),
            reason=str(form.get("reason", ""))[:200],
        )
    except ValueError:
        return _back("error")
    return _back("done" if await _act(request, action) else "error")


@allow(*ROLES)
async def review_callback(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    session = session_of(request)
    if not session.agent_id:
        return _back("no_seat")
    try:  # an agent id since removed from the configuration is an error note, not a 500
        seat = desk.agents.seed(session.agent_id).dial_string
        await _review(request).call_back(request.match_info["number"], session.user, seat)
    except (LookupError, ReviewError, ValueError) as exc:
        log.info("review callback refused: %s", exc)
        return _back("error")
    return _back("done")


def _requester(session: Session) -> Requester:
    return Requester(user=session.user, role=session.role, agent_id=session.agent_id)


async def requester_of(request: web.Request) -> Requester | None:
    """The desktop's logged-in user as the recordings' access rules see them."""
    session: Session | None = request.get("session")
    return None if session is None else _requester(session)


def _voicemail_audio(
    recordings: RecordingService, who: Requester, call_ids: list[str]
) -> dict[str, str]:
    """Call id -> the player's URL of its message (only what ``who`` may hear)."""
    found: dict[str, str] = {}
    for call_id in filter(None, call_ids):
        for rec in recordings.of_call(who, call_id):
            if rec.kind == "voicemail" and rec.deleted_at is None:
                found[call_id] = f"{PREFIX}/recordings/{rec.id}/audio"
    return found


def add_review_pages(
    app: web.Application, review: VoicemailReview, recordings: RecordingService
) -> None:
    """The review page, and the recordings' routes (playback with ranges, metadata, quality
    scores and report) under /desk/recordings, behind the desktop's guards."""
    app[REVIEW_KEY] = review
    app[RECORDINGS_KEY] = recordings
    add_recording_routes(app, recordings, requester_of, "/recordings")
    add_quality_pages(app, recordings)
    r = app.router
    r.add_get("/review", review_page)
    r.add_post("/review/{number}/accept", review_accept)
    r.add_post("/review/{number}/dismiss", review_dismiss)
    r.add_post("/review/{number}/callback", review_callback)
