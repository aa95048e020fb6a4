"""``hotline user add NAME --role ROLE [--agent ID] [--unit UNIT] [--password-stdin]`` and
``hotline user list``: desktop accounts. The password is read from standard input (one line)
or asked for without echo on a terminal; never from the command line, where other users of the
machine could read it in the process list.

``hotline kb import FILE.json`` loads knowledge-base articles (agents/web/kb.py), all or none.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from agents.web.security import ROLES, PasswordRejected


def cmd_user(args: argparse.Namespace) -> int:
    from hotline.config import load_config
    from tickets.migrate import upgrade

    cfg = load_config(args.config)
    upgrade(cfg.database_url)
    from agents.web.users import UserError, UserStore

    store = UserStore(cfg.database_url)
    try:
        if args.action == "list":
            for u in store.list():
                extra = (
                    f" agent={u.agent_id}" if u.agent_id else f" unit={u.unit}" if u.unit else ""
                )
                print(f"{u.name}\t{u.role}{extra}{'' if u.active else ' (inactive)'}")
            return 0
        if args.agent and args.agent not in {a.id for a in cfg.agents}:
            print(f"hotline: agent: no agent {args.agent!r} in the configuration", file=sys.stderr)
            return 2
        password = read_password(args.password_stdin)
        try:
            store.add(args.name, args.role, password, agent_id=args.agent, unit=args.unit)
        except (UserError, PasswordRejected) as exc:
            print(f"hotline: {exc}", file=sys.stderr)
            return 2
        print(f"user {args.name} added ({args.role})")
        return 0
    finally:
        store.dispose()


def read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("hotline: the two passwords differ")
    return first


def add_user_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="web desktop accounts")
    actions = user.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user (password from stdin or asked)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--agent", default=None, help="agent id: an agent's seat, a boss's phone")
    add.add_argument("--unit", default=None, help="handling unit (role unit)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    actions.add_parser("list", help="list the users")
    user.set_defaults(func=cmd_user)


def cmd_kb(args: argparse.Namespace) -> int:
    from agents.web.kb import KbError, KbStore, articles_from
    from hotline.config import load_config
    from tickets.migrate import upgrade

    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
        articles = articles_from(data)
    except FileNotFoundError:
        print(f"hotline: {args.file}: no such file", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        print(f"hotline: {args.file}: not JSON: {exc}", file=sys.stderr)
        return 2
    except KbError as exc:
        print(f"hotline: {args.file}: {exc} (nothing imported)", file=sys.stderr)
        return 2
    cfg = load_config(args.config)
    upgrade(cfg.database_url)
    store = KbStore(cfg.database_url)
    try:
        count = store.put(articles)
    finally:
        store.dispose()
    print(f"{count} knowledge-base articles imported")
    return 0


def add_kb_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kb = sub.add_parser("kb", help="the agents' knowledge base")
    actions = kb.add_subparsers(dest="action", required=True)
    load = actions.add_parser("import", help="add or replace articles from a JSON file")
    load.add_argument("file", help="JSON list of {id, title, body, owner_unit, review_date}")
    kb.set_defaults(func=cmd_kb)
