"""HTTP resources of the voicemail review (JSON, the API's bearer token): the queue, and
"call back". Accepting, dispatching and dismissing are ticket actions
(``POST /api/v1/tickets/{number}/actions`` with ``AcceptVoicemail``, ``Dispatch``,
``DismissVoicemail``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web

from hotline.acd.http import json_body
from hotline.tickets.values import TicketNotFound
from hotline.voicemail.review import ReviewItem
from hotline.voicemail.review_service import ReviewError, ReviewSeatError, VoicemailReview


def item_json(item: ReviewItem) -> dict[str, Any]:
    data = asdict(item)
    return json.loads(json.dumps(data, default=_enc))  # type: ignore[no-any-return]


def _enc(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def add_review_routes(app: web.Application, review: VoicemailReview) -> None:
    async def queue(request: web.Request) -> web.Response:
        items = await review.queue()
        return web.json_response({"voicemail": [item_json(i) for i in items]})

    async def call_back(request: web.Request) -> web.Response:
        body = await json_body(request)
        reviewer, seat = str(body.get("reviewer", "")), str(body.get("seat", ""))
        if not reviewer.strip():
            return web.json_response({"error": "reviewer: give who calls back"}, status=400)
        try:
            placed = await review.call_back(request.match_info["number"], reviewer, seat)
        except TicketNotFound as exc:
            return web.json_response({"error": f"no ticket {exc}"}, status=404)
        except ReviewSeatError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except ReviewError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        except ValueError as exc:  # a malformed ticket number (format, check digit)
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(placed, status=202)

    app.router.add_get("/api/v1/voicemail/review", queue)
    app.router.add_post("/api/v1/voicemail/review/{number}/callback", call_back)
