"""``hotline user add NAME --role ROLE [--agent ID] [--unit UNIT] [--password-stdin]``,
``hotline user list``, ``disable NAME``, ``enable NAME``, ``reset-password NAME
[--password-stdin]``, ``unlock NAME [--address ADDR]`` and ``edit NAME [--role R] [--agent ID]
[--unit U] [--password] [--disable|--enable]`` (give an existing user a phone, another role...):
desktop accounts. A password is read
from standard input (one line) or asked for without echo on a terminal; never from the command
line, where other users of the machine could read it in the process list. Disabling a user or
resetting its password ends its open sessions: the running engine is told over Redis at once.

``hotline kb import FILE.json`` loads knowledge-base articles (hotline/kb/service.py), all or none.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import redis

from hotline.base.web.security import ROLES, PasswordRejected

if TYPE_CHECKING:
    from hotline.base.settings import Config
    from hotline.desk.users import UserStore


def cmd_user(args: argparse.Namespace) -> int:
    from hotline.app.migrate import upgrade
    from hotline.base.settings import load_config

    cfg = load_config(args.config)
    upgrade(cfg.database_url)
    from hotline.desk.users import UserError, UserStore

    store = UserStore(cfg.database_url)
    try:
        if args.action == "list":
            for u in store.list():
                extra = (
                    f" agent={u.agent_id}" if u.agent_id else f" unit={u.unit}" if u.unit else ""
                )
                print(f"{u.name}\t{u.role}{extra}{'' if u.active else ' (inactive)'}")
            return 0
        if args.action == "unlock":
            return unlock(cfg, args.name, args.address)
        try:
            if args.action in ("disable", "enable"):
                store.set_active(args.name, args.action == "enable")
                print(f"user {args.name} {args.action}d")
                return notify(cfg, args.name, args.action)
            if args.action == "edit":
                return edit(cfg, store, args)
            if args.action == "reset-password":
                store.set_password(args.name, read_password(args.password_stdin))
                print(f"password of {args.name} reset")
                return notify(cfg, args.name, "reset")
        except (UserError, PasswordRejected) as exc:
            print(f"hotline: {exc}", file=sys.stderr)
            return 2
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


def edit(cfg: Config, store: UserStore, args: argparse.Namespace) -> int:
    """Change an existing user; its open sessions end (they carry the old role and seat)."""
    if args.agent and args.agent not in {a.id for a in cfg.agents}:
        print(f"hotline: agent: no agent {args.agent!r} in the configuration", file=sys.stderr)
        return 2
    given = (args.role, args.agent, args.unit, args.active)
    if all(v is None for v in given) and not (args.password or args.password_stdin):
        print("hotline: edit: nothing to change (see hotline user edit --help)", file=sys.stderr)
        return 2
    wants_password = args.password or args.password_stdin
    password = read_password(args.password_stdin) if wants_password else None
    user = store.edit(
        args.name,
        role=args.role,
        agent_id=args.agent,
        unit=args.unit,
        password=password,
        active=args.active,
    )
    extra = (
        f" agent={user.agent_id}" if user.agent_id else f" unit={user.unit}" if user.unit else ""
    )
    print(f"user {user.name} changed: {user.role}{extra}{'' if user.active else ' (inactive)'}")
    return notify(cfg, args.name, "edit")


def _redis(cfg: Config) -> redis.Redis:
    from hotline.base.localservices import redis_client_kwargs

    return redis.Redis.from_url(
        cfg.redis.url, socket_connect_timeout=3, socket_timeout=5, **redis_client_kwargs(cfg)
    )


def notify(cfg: Config, name: str, event: str) -> int:
    """Tell a running engine at once (its open sessions of the user end now); without Redis it
    finds out at the user's next request, or within ``web.user_recheck_s`` for a websocket."""
    client = _redis(cfg)
    try:
        client.publish(channel_of(cfg), json.dumps({"user": name, "event": event}))
    except redis.RedisError as exc:
        print(
            f"hotline: warning: the engine was not told at once (Redis: {exc}); it stops the "
            f"user's sessions at their next request, websockets within "
            f"{cfg.web.user_recheck_s:g} s",
            file=sys.stderr,
        )
    finally:
        client.close()
    return 0


def unlock(cfg: Config, name: str, address: str | None) -> int:
    """Forget the wrong passwords counted for a name (and, with --address, for an address)."""
    from hotline.desk.login_limits import digest

    base = f"{cfg.redis.key_prefix}desk:login:"
    patterns = [f"{base}name:{digest(name)}", f"{base}pair:{digest(name)}:*"]
    if address:
        patterns += [f"{base}addr:{digest(address)}", f"{base}pair:*:{digest(address)}"]
    client = _redis(cfg)
    try:
        keys = [key for pattern in patterns for key in client.scan_iter(match=pattern)]
        if keys:
            client.delete(*keys)
        client.publish(channel_of(cfg), json.dumps({"user": name, "event": "unlock"}))
    except redis.RedisError as exc:
        print(f"hotline: redis: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"log-in delays of {name}{f' and of {address}' if address else ''} lifted")
    return 0


def channel_of(cfg: Config) -> str:
    from hotline.desk.access import channel

    return channel(cfg.redis.key_prefix)


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
    for what, why in (
        ("disable", "no more log-ins; the user's open sessions and websockets end now"),
        ("enable", "allow log-ins again"),
    ):
        actions.add_parser(what, help=why).add_argument("name")
    reset = actions.add_parser(
        "reset-password", help="a new password (from stdin or asked); open sessions end"
    )
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    change = actions.add_parser(
        "edit", help="change a user's role, seat, unit, password or access; its sessions end"
    )
    change.add_argument("name")
    change.add_argument("--role", default=None, choices=ROLES)
    change.add_argument("--agent", default=None, help='agent id (its phone); "" removes it')
    change.add_argument("--unit", default=None, help='handling unit; "" removes it')
    change.add_argument("--password", action="store_true", help="a new password (stdin or asked)")
    change.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    change.add_argument("--disable", dest="active", action="store_false", default=None)
    change.add_argument("--enable", dest="active", action="store_true")
    unlocking = actions.add_parser("unlock", help="lift the log-in delays of a name")
    unlocking.add_argument("name")
    unlocking.add_argument("--address", default=None, help="and of this client address")
    user.set_defaults(func=cmd_user)


def cmd_kb(args: argparse.Namespace) -> int:
    from hotline.app.migrate import upgrade
    from hotline.base.settings import load_config
    from hotline.kb.service import KbError, KbStore, articles_from

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
