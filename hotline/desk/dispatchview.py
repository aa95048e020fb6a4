"""The desk's dispatch pieces: the catalogue's suggestion for the ticket form, and the unit
ranking page (三率: 响应率, 解决率, 满意率) for supervisors.

The suggestion is asked for as the agent picks the subject (or the classifier fills it) and
types the address; the catalogue finds the area from the address. The agent may always choose
another unit: the catalogue suggests, the dispatcher decides. The ranking covers whole
Beijing days, the last 30 by default, counted like ``hotline report`` (tickets/reports.py).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

from aiohttp import web

from hotline.acd.staffing import CENTRE_TZ
from hotline.desk.guard import DESK_KEY, Desk, allow, error, render, session_of
from hotline.tickets.reports import RANK_KEYS, Period, ranking, three_rates
from hotline.tickets.values import AccessDenied, FieldError, Viewer

DEFAULT_DAYS = 30


@allow("agent", "supervisor", "admin")
async def catalogue_suggest(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    q = request.query
    viewer = Viewer("agent" if session_of(request).role == "agent" else "supervisor")
    try:
        found = await asyncio.to_thread(
            desk.tickets.suggest_units, viewer, subject_code=q.get("subject_code", ""),
            address=q.get("address", ""), area=q.get("area", ""),
        )  # fmt: skip
    except FieldError as exc:
        return error(400, str(exc), field=exc.field)
    except AccessDenied as exc:
        return error(403, str(exc))
    return web.json_response(found, dumps=lambda d: json.dumps(d, ensure_ascii=False))


@allow("supervisor", "admin")
async def units_page(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.config_dict[DESK_KEY]
    today = datetime.now(CENTRE_TZ).date()
    first = request.query.get("from") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    last = request.query.get("to") or today.isoformat()
    by = request.query.get("by", "score")
    try:
        period = Period.parse(first, last)
        rates = await asyncio.to_thread(
            three_rates, desk.tickets.store.engine, period, datetime.now(CENTRE_TZ)
        )
        ranked = ranking(rates["units"], by)
    except FieldError as exc:
        return error(400, str(exc), field=exc.field)
    context = {
        "first": period.first.isoformat(), "last": period.last.isoformat(), "by": by,
        "rank_keys": RANK_KEYS, "overall": rates["overall"], "units": ranked,
    }  # fmt: skip
    return render(request, "units.html.j2", context)
