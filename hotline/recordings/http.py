"""HTTP for recordings (aiohttp): play with Range requests, metadata, quality scores, the report.

Authentication is not done here: the desktop (agents/web) knows who is logged in and passes
an async ``requester_of(request)`` returning the :class:`Requester` (None: not logged in, 401).
Authorisation is: ``RecordingService`` applies ``hotline.recordings.access`` (403 / 404).

Every response to a play request that sends audio is logged in ``playbacks`` (who, role, when,
which recording, which bytes) before the first byte goes out: an unlogged playback never happens.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline.quality.rules import ScoreError
from hotline.recordings.access import Requester
from hotline.recordings.ranges import ByteRange, Unsatisfiable, select
from hotline.recordings.service import (
    AUDIO_TYPES,
    AccessDenied,
    RecordingGone,
    RecordingService,
)

RequesterOf = Callable[[web.Request], Awaitable[Requester | None]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CHUNK = 64 * 1024
_ID = re.compile(r"[0-9]{1,18}")


async def _who(requester_of: RequesterOf, request: web.Request) -> Requester:
    who = await requester_of(request)
    if who is None:
        raise web.HTTPUnauthorized(text="log in first")
    return who


def _recording_id(request: web.Request) -> int:
    raw = request.match_info.get("recording_id", "")
    # ASCII digits only: str.isdigit() and int() also take "²" or "٣" (and then int() fails).
    if not _ID.fullmatch(raw):
        raise web.HTTPNotFound(text=f"no recording {raw[:40]!r}")
    return int(raw)


def _read(path: Path, start: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(start)
        return f.read(length)


def playback_handler(service: RecordingService, requester_of: RequesterOf) -> Handler:
    """GET .../{recording_id}/audio: 200 whole file, 206 a range, 416 a bad range,
    403 a role without the right, 404 unknown or removed."""

    async def play(request: web.Request) -> web.StreamResponse:
        who = await _who(requester_of, request)
        recording_id = _recording_id(request)
        try:
            rec, path = await asyncio.to_thread(service.open_for, who, recording_id)
        except AccessDenied as exc:
            raise web.HTTPForbidden(text=str(exc)) from None
        except RecordingGone as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        size = (await asyncio.to_thread(path.stat)).st_size
        try:
            wanted = select(request.headers.get("Range"), size)
        except Unsatisfiable as exc:
            raise web.HTTPRequestRangeNotSatisfiable(
                text=str(exc), headers={"Content-Range": f"bytes */{size}"}
            ) from None
        span = wanted or ByteRange(0, size - 1, size)
        await asyncio.to_thread(service.log_playback, who, rec, span.logged())
        response = web.StreamResponse(status=206 if wanted and wanted.partial else 200)
        response.content_type = AUDIO_TYPES.get(path.suffix, "application/octet-stream")
        response.content_length = max(0, span.length) if size else 0
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["Cache-Control"] = "private, no-store"  # confidential audio
        if wanted is not None and wanted.partial:
            response.headers["Content-Range"] = span.content_range()
        await response.prepare(request)
        offset, left = span.start, (span.length if size else 0)
        while left > 0:
            data = await asyncio.to_thread(_read, path, offset, min(CHUNK, left))
            if not data:
                break  # the file shrank under us: stop rather than send garbage
            await response.write(data)
            offset += len(data)
            left -= len(data)
        await response.write_eof()
        return response

    return play


def metadata_handler(service: RecordingService, requester_of: RequesterOf) -> Handler:
    """GET .../{recording_id}: the row (for anyone who may hear it), incl. a removal's reason."""

    async def meta(request: web.Request) -> web.StreamResponse:
        who = await _who(requester_of, request)
        recording_id = _recording_id(request)
        try:
            rec = await asyncio.to_thread(service.describe, who, recording_id)
        except AccessDenied as exc:
            raise web.HTTPForbidden(text=str(exc)) from None
        except RecordingGone as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        return web.json_response(rec.to_json())

    return meta


def score_handler(service: RecordingService, requester_of: RequesterOf) -> Handler:
    """POST .../{recording_id}/score {"marks": {item: 0..1}, "comment": ""} -> {"score": %}."""

    async def score(request: web.Request) -> web.StreamResponse:
        who = await _who(requester_of, request)
        recording_id = _recording_id(request)
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise web.HTTPBadRequest(text="body: not JSON (or nested too deeply)") from None
        if not isinstance(body, dict) or not isinstance(body.get("marks"), dict):
            raise web.HTTPBadRequest(text='body: {"marks": {item: mark}} expected')
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            raise web.HTTPBadRequest(text="comment: text expected")
        try:
            value = await asyncio.to_thread(
                service.score, who, recording_id, body["marks"], comment
            )
        except AccessDenied as exc:
            raise web.HTTPForbidden(text=str(exc)) from None
        except RecordingGone as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        except ScoreError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response({"recording_id": recording_id, "score": value})

    return score


def list_handler(service: RecordingService, requester_of: RequesterOf) -> Handler:
    """GET ...?from=ISO&to=ISO[&kind=call][&agent=1001], or ?call=ID: what ``who`` may hear."""

    async def listing(request: web.Request) -> web.StreamResponse:
        who = await _who(requester_of, request)
        q = request.query
        if "call" in q:
            found = await asyncio.to_thread(service.of_call, who, q["call"])
        else:
            start, end = _period(request)
            found = await asyncio.to_thread(
                service.list_for, who, start, end, kind=q.get("kind"), agent_id=q.get("agent")
            )
        return web.json_response({"recordings": [r.to_json() for r in found]})

    return listing


def _period(request: web.Request) -> tuple[datetime, datetime]:
    try:
        start = datetime.fromisoformat(request.query["from"])
        end = datetime.fromisoformat(request.query["to"])
    except (KeyError, ValueError) as exc:
        raise web.HTTPBadRequest(text=f"from/to: ISO times with a zone expected ({exc})") from None
    if start.tzinfo is None or end.tzinfo is None:
        raise web.HTTPBadRequest(text="from/to: give a time zone (e.g. +08:00)")
    try:  # 9999-12-31T23:00-05:00 is past the last datetime once in UTC
        return start.astimezone(UTC), end.astimezone(UTC)
    except OverflowError:
        raise web.HTTPBadRequest(text="from/to: outside the years 1-9999") from None


def report_handler(service: RecordingService, requester_of: RequesterOf) -> Handler:
    """GET ...?from=ISO&to=ISO: per-agent quality (reviews, mean score); scorers' roles only."""

    async def report(request: web.Request) -> web.StreamResponse:
        who = await _who(requester_of, request)
        if who.role not in ("supervisor", "reviewer", "admin"):
            raise web.HTTPForbidden(text=f"role {who.role!r} may not read quality reports")
        start, end = _period(request)
        lines = await asyncio.to_thread(service.quality_report, start, end)
        return web.json_response({"agents": [line.to_json() for line in lines]})

    return report


def add_recording_routes(
    app: web.Application,
    service: RecordingService,
    requester_of: RequesterOf,
    prefix: str = "/recordings",
) -> None:
    app.router.add_get(prefix, list_handler(service, requester_of))
    app.router.add_get(f"{prefix}/quality/report", report_handler(service, requester_of))
    app.router.add_get(f"{prefix}/{{recording_id}}", metadata_handler(service, requester_of))
    # No automatic HEAD: it would log a playback that sent no audio.
    app.router.add_get(
        f"{prefix}/{{recording_id}}/audio",
        playback_handler(service, requester_of),
        allow_head=False,
    )
    app.router.add_post(f"{prefix}/{{recording_id}}/score", score_handler(service, requester_of))
