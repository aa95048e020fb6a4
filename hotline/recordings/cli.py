"""``hotline recordings purge`` and ``hotline quality report``: retention and 质检 from the shell.

hotline recordings purge [--now ISO]              remove audio past its retention (keep the rows),
                                                  compress calls' older WAVs
hotline quality report --from D --to D [--json]   per agent: reviews and mean score (Beijing days)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CENTRE_TZ = ZoneInfo("Asia/Shanghai")


class StoreNotReady(RuntimeError):
    pass


def _service(args: argparse.Namespace) -> Any:
    from sqlalchemy.engine import make_url

    from hotline.app.migrate import current, head
    from hotline.base.settings import load_config
    from hotline.recordings.files import audio_roots
    from hotline.recordings.service import RecordingService
    from hotline.recordings.store import RecordingStore

    cfg = load_config(args.config)
    # Never create or migrate a store from here: an empty SQLite file would hide a wrong path.
    if current(cfg.database_url) != head():
        shown = make_url(cfg.database_url).render_as_string(hide_password=True)
        raise StoreNotReady(f"the store at {shown} is not at the latest schema: hotline db upgrade")
    return RecordingService(
        RecordingStore(cfg.database_url),
        lambda: audio_roots(cfg),
        retention_days=cfg.recordings.retention_days,
        checklist=cfg.quality.items,
        compress_after_days=cfg.recordings.compress_after_days,
        compress_format=cfg.recordings.compress_format,
    )


def _opened(args: argparse.Namespace) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return _service(args)
    except (StoreNotReady, SQLAlchemyError) as exc:
        print(f"hotline {args.command}: {exc}", file=sys.stderr)
        return None


def parse_instant(raw: str) -> datetime:
    """An ISO time; without a zone it is Beijing time (the centre's clock)."""
    at = datetime.fromisoformat(raw)
    return at if at.tzinfo is not None else at.replace(tzinfo=CENTRE_TZ)


def cmd_recordings(args: argparse.Namespace) -> int:
    try:
        now = parse_instant(args.now) if args.now else datetime.now(UTC)
    except ValueError:
        print(f"--now: {args.now!r} is not an ISO time like 2026-11-23T10:00", file=sys.stderr)
        return 2
    service = _opened(args)
    if service is None:
        return 3
    try:
        result = service.purge(now)
    finally:
        service.store.dispose()
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(
            f"as of {now.isoformat()}: {len(result.deleted)} recordings removed, "
            f"{len(result.already_gone)} already gone, {len(result.failed)} failed, "
            f"{len(result.compressed)} compressed ({result.bytes_saved} bytes saved)"
        )
    return 1 if result.failed else 0


def cmd_quality(args: argparse.Namespace) -> int:
    try:
        first, last = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    except ValueError as exc:
        print(f"--from/--to: days like 2026-11-23 expected ({exc})", file=sys.stderr)
        return 2
    if last < first:
        print("--to is before --from", file=sys.stderr)
        return 2
    start = datetime.combine(first, time(), CENTRE_TZ)
    end = datetime.combine(last + timedelta(days=1), time(), CENTRE_TZ)
    service = _opened(args)
    if service is None:
        return 3
    try:
        lines = service.quality_report(start, end)
    finally:
        service.store.dispose()
    if args.json:
        print(json.dumps({"from": args.date_from, "to": args.date_to,
                          "agents": [line.to_json() for line in lines]}))  # fmt: skip
        return 0
    print(f"quality review 质检 {args.date_from} .. {args.date_to}")
    if not lines:
        print("  no reviews in this period")
    for line in lines:
        print(f"  agent {line.agent_id:<10} {line.reviews:>4} reviews  mean {line.mean_score:5.1f}")
    return 0


def add_recordings_parser(sub: Any) -> None:
    rec = sub.add_parser("recordings", help="call recordings: retention")
    rec_sub = rec.add_subparsers(dest="action", required=True)
    purge = rec_sub.add_parser("purge", help="remove audio past its retention (rows are kept)")
    purge.add_argument("--now", default=None, help="purge as of this ISO time (default: now)")
    purge.add_argument("--json", action="store_true")
    rec.set_defaults(func=cmd_recordings)
    qa = sub.add_parser("quality", help="quality review (质检) of recorded calls")
    qa_sub = qa.add_subparsers(dest="action", required=True)
    rep = qa_sub.add_parser("report", help="per agent: reviews and mean score")
    rep.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    rep.add_argument("--to", dest="date_to", required=True, help="last day (inclusive)")
    rep.add_argument("--json", action="store_true")
    qa.set_defaults(func=cmd_quality)
