"""``hotline catalogue import FILE`` and ``hotline catalogue show``: the dispatch catalogue.

hotline catalogue import FILE.json [--by NAME]   validate and put a catalogue in force (all or
                                                nothing; errors name the entry and the field)
hotline catalogue show [--json]                  the catalogue in force: areas and entries
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_FILE = 8 * 1024 * 1024


def _service(args: argparse.Namespace) -> Any:
    from sqlalchemy.engine import make_url

    from hotline.app.migrate import current, head
    from hotline.base.settings import load_config
    from hotline.tickets.service import TicketService, settings_from_config
    from hotline.tickets.store import TicketStore

    cfg = load_config(args.config)
    # Never create or migrate a store from here: an empty SQLite file would hide a wrong path.
    if current(cfg.database_url) != head():
        shown = make_url(cfg.database_url).render_as_string(hide_password=True)
        raise RuntimeError(f"the store at {shown} is not at the latest schema: hotline db upgrade")
    return TicketService(TicketStore(cfg.database_url), settings_from_config(cfg.tickets))


def cmd_catalogue(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from hotline.tickets.catalogue import CatalogueError

    try:
        service = _service(args)
    except (RuntimeError, SQLAlchemyError) as exc:
        print(f"hotline catalogue: {exc}", file=sys.stderr)
        return 1
    try:
        if args.catalogue_command == "show":
            cat = service.load_catalogue()
            if args.json:
                entries = [
                    {"subject": e.subject, "area": e.area, "lead_unit": e.lead_unit,
                     "co_units": list(e.co_units), "valid_from": e.valid_from.isoformat(),
                     "valid_to": e.valid_to.isoformat() if e.valid_to else None}
                    for e in cat.entries
                ]  # fmt: skip
                areas = [{"code": a.code, "name": a.name, "match": list(a.match)}
                         for a in cat.areas.values()]  # fmt: skip
                print(
                    json.dumps({"areas": areas, "entries": entries}, ensure_ascii=False, indent=2)
                )
            else:
                origin = service.catalogue_origin or "none imported"
                print(f"{len(cat.areas)} areas, {len(cat.entries)} entries ({origin})")
                for e in cat.entries:
                    co = ",".join(e.co_units) or "-"
                    print(f"{e.subject:<10} {e.area:<16} {e.lead_unit:<24} {co:<24} "
                          f"{e.valid_from}..{e.valid_to or ''}")  # fmt: skip
            return 0
        path = Path(args.file)
        try:
            if not path.is_file():
                raise OSError("not a file")
            if path.stat().st_size > MAX_FILE:
                raise OSError(f"larger than {MAX_FILE} bytes")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"hotline catalogue import: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        try:
            cat = service.import_catalogue(
                text, path.name[:200], actor=args.by or getpass.getuser(), at=datetime.now(UTC)
            )
        except (CatalogueError, ValueError) as exc:
            print(f"hotline catalogue import: {path}: {exc}; nothing imported", file=sys.stderr)
            return 2
        print(f"imported {len(cat.entries)} catalogue entries in {len(cat.areas)} areas")
        return 0
    finally:
        service.store.dispose()


def add_catalogue_parser(sub: Any) -> None:
    cat = sub.add_parser("catalogue", help="the dispatch catalogue (派单目录): import, show")
    cat_sub = cat.add_subparsers(dest="catalogue_command", required=True)
    imp = cat_sub.add_parser("import", help="validate a catalogue file and put it in force")
    imp.add_argument("file")
    imp.add_argument("--by", help="who imports (kept with the file)")
    show = cat_sub.add_parser("show", help="the catalogue in force")
    show.add_argument("--json", action="store_true")
    cat.set_defaults(func=cmd_catalogue)
