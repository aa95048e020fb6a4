"""The quality review page of the web desktop (``/desk/quality``, 质检): a day's call
recordings with a player each, the checklist to score one, the day's report per agent, and the
week's sampling plan (each agent's calls still to review, hotline/quality/rules.py rule 5).

Supervisors, QA reviewers and admins (hotline/recordings/access.py). The desktop's guards apply
(session, role, CSRF on the form). Scores go through RecordingService.score, which checks the
role again and names a bad checklist item; playback goes through the recordings' own routes,
so every listen is logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from aiohttp import web

from hotline.base.web.sessions import Session
from hotline.desk.guard import PREFIX, allow, redirect, render, session_of
from hotline.quality.rules import ScoreError
from hotline.recordings.access import Requester
from hotline.recordings.service import AccessDenied, RecordingGone, RecordingService
from hotline.tickets.workdays import SHANGHAI

ROLES = ("supervisor", "reviewer", "admin")
QUALITY_KEY = web.AppKey("quality", RecordingService)
MARKS = ("1", "0.5", "0")

TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "录音质检",
        "day": "日期",
        "show": "查看",
        "none": "当天没有通话录音。",
        "agent": "坐席",
        "call": "通话",
        "started": "开始",
        "score": "评分",
        "save": "保存评分",
        "comment": "备注",
        "report": "坐席质检汇总",
        "reviews": "评分次数",
        "mean": "平均分",
        "greeting": "规范问候",
        "asked_contact_details": "询问联系方式",
        "correct_category": "分类正确",
        "polite_close": "礼貌结束",
        "saved": "已保存评分",
        "plan": "本周抽检计划",
        "week_of": "自周一",
        "done": "已评",
        "to_review": "待评录音",
        "plan_empty": "本周还没有通话录音。",
        "error": "评分失败",
    },
    "en": {
        "title": "Quality review",
        "day": "Day",
        "show": "Show",
        "none": "No call recordings that day.",
        "agent": "Agent",
        "call": "Call",
        "started": "Started",
        "score": "Score",
        "save": "Save score",
        "comment": "Comment",
        "report": "Quality per agent",
        "reviews": "Reviews",
        "mean": "Mean score",
        "greeting": "Greeting",
        "asked_contact_details": "Asked for contact details",
        "correct_category": "Correct category",
        "polite_close": "Polite close",
        "saved": "Score saved",
        "plan": "This week's sampling plan",
        "week_of": "week of",
        "done": "Done",
        "to_review": "To review",
        "plan_empty": "No call recordings this week yet.",
        "error": "Could not score",
    },
}


def _text(lang: str) -> Callable[[str], str]:
    table = TEXT.get(lang, TEXT["zh"])
    return lambda key: table.get(key, TEXT["zh"].get(key, key))


def _who(session: Session) -> Requester:
    return Requester(user=session.user, role=session.role, agent_id=session.agent_id)


def _day(raw: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return datetime.now(SHANGHAI).date()
    # The page works on the day's week (and the next day): 0001-01-01 or 9999-12-31 would
    # overflow; such a day is as unknown as a malformed one.
    return day if 1970 <= day.year <= 2999 else datetime.now(SHANGHAI).date()


@allow(*ROLES)
async def quality_page(request: web.Request) -> web.StreamResponse:
    service = request.config_dict[QUALITY_KEY]
    session = session_of(request)
    day = _day(request.query.get("day", ""))
    start = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    end = start + timedelta(days=1)
    who = _who(session)
    calls = await asyncio.to_thread(service.list_for, who, start, end, kind="call")
    report = await asyncio.to_thread(service.quality_report, start, end)
    week_start = start - timedelta(days=day.weekday())  # Monday, China time
    plan, week = await asyncio.to_thread(service.sample_plan, who, week_start)
    note = request.query.get("note", "")
    return render(
        request,
        "quality.html.j2",
        {
            "qt": _text(session.lang),
            "day": day.isoformat(),
            "calls": [c for c in calls if c.deleted_at is None],
            "report": report,
            "plan": plan,
            "week": week,
            "week_start": week_start.date().isoformat(),
            "day_of": lambda at: at.astimezone(SHANGHAI).date().isoformat(),
            "items": list(service.checklist),
            "marks": MARKS,
            "note": note if note in ("saved", "error") else "",
            "when": lambda at: at.astimezone(SHANGHAI).strftime("%H:%M:%S"),
        },
    )


@allow(*ROLES)
async def quality_score(request: web.Request) -> web.StreamResponse:
    service = request.config_dict[QUALITY_KEY]
    form = await request.post()
    day = _day(str(form.get("day", "")))
    back = f"{PREFIX}/quality?day={day.isoformat()}"
    try:
        recording_id = int(request.match_info["recording_id"])
        marks = {name: float(str(form.get(f"mark_{name}", ""))) for name in service.checklist}
        comment = str(form.get("comment", ""))[:500]
        await asyncio.to_thread(
            service.score, _who(session_of(request)), recording_id, marks, comment
        )
    except (ValueError, ScoreError, RecordingGone, AccessDenied):
        return redirect(f"{back}&note=error")
    return redirect(f"{back}&note=saved")


def add_quality_pages(app: web.Application, recordings: RecordingService) -> None:
    app[QUALITY_KEY] = recordings
    app.router.add_get("/quality", quality_page)
    app.router.add_post("/quality/{recording_id}/score", quality_score)
