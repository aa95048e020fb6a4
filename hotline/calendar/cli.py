"""``hotline calendar status`` and ``hotline calendar import FILE``: the centre's calendar.

hotline calendar status [--json]        each year: configured / official / provisional
hotline calendar import FILE [--by NAME] a year's official arrangement (docs/CALENDAR.md);
                                        open tickets' provisional deadlines are counted again
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_FILE = 64 * 1024


def _service(args: argparse.Namespace) -> Any:
    from sqlalchemy.engine import make_url

    from hotline.app.migrate import current, head
    from hotline.base.settings import load_config
    from hotline.calendar.service import CalendarService
    from hotline.tickets.service import TicketService, settings_from_config
    from hotline.tickets.store import TicketStore

    cfg = load_config(args.config)
    # Never create or migrate a store from here: an empty SQLite file would hide a wrong path.
    if current(cfg.database_url) != head():
        shown = make_url(cfg.database_url).render_as_string(hide_password=True)
        raise RuntimeError(f"the store at {shown} is not at the latest schema: hotline db upgrade")
    tickets = TicketService(TicketStore(cfg.database_url), settings_from_config(cfg.tickets))
    service = CalendarService(tickets)
    service.load()
    return service


def cmd_calendar(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from hotline.calendar.file import ArrangementError

    try:
        service = _service(args)
    except (RuntimeError, SQLAlchemyError) as exc:
        print(f"hotline calendar: {exc}", file=sys.stderr)
        return 1
    try:
        now = datetime.now(UTC)
        if args.calendar_command == "status":
            years = service.years(now.date())
            if args.json:
                print(json.dumps([asdict(y) for y in years], ensure_ascii=False, indent=2))
            else:
                for y in years:
                    print(f"{y.year}  {y.source.value:<11}  {y.detail}")
                warning = service.warning(now)
                if warning:
                    print(f"warning: {warning}")
            return 0
        path = Path(args.file)
        try:
            if not path.is_file():
                raise OSError("not a file")
            if path.stat().st_size > MAX_FILE:
                raise OSError(f"larger than {MAX_FILE} bytes: not an arrangement file")
            data = path.read_bytes()
        except OSError as exc:
            print(f"hotline calendar import: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        try:
            result = service.import_file(
                data, path.name[:200], actor=args.by or getpass.getuser(), at=now
            )
        except ArrangementError as exc:
            print(f"hotline calendar import: {path}: {exc}; nothing imported", file=sys.stderr)
            return 2
        a = result.arrangement
        print(
            f"imported {a.year}: {len(a.holidays)} holidays, {len(a.workdays)} make-up working "
            f"days; {result.recomputed} open ticket(s) had their deadlines counted again"
        )
        return 0
    finally:
        service.tickets.store.dispose()


def add_calendar_parser(sub: Any) -> None:
    cal = sub.add_parser("calendar", help="working days: status per year, import an arrangement")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True)
    status = cal_sub.add_parser(
        "status", help="each year's source: configured/official/provisional"
    )
    status.add_argument("--json", action="store_true")
    imp = cal_sub.add_parser(
        "import", help="a year's official holiday arrangement (docs/CALENDAR.md)"
    )
    imp.add_argument("file")
    imp.add_argument("--by", help="who imports (logged on each recomputed ticket)")
    cal.set_defaults(func=cmd_calendar)
