"""``hotline``: the one console command.

hotline up                 build/start the managed Asterisk, then run the engine (foreground)
hotline engine             run the engine only (Asterisk already running)
hotline asterisk build|start|stop|status|install-config|cli CMD
hotline db upgrade         migrate the ticket store
hotline config check|show  validate / print the effective configuration
hotline status [--json]    ask the running engine what it is doing
hotline staffing --date D  agents needed per half hour (Erlang C from the call records)
hotline calendar status [--json] | import FILE   working days per year; import an arrangement
hotline speech install-model ZIP_OR_DIR [--lang zh] | status [--load]   Vosk models
hotline ivr recognise FILE.wav [--language L] [--json] | classify "TEXT" [--json]   IVR speech
hotline user add NAME --role ROLE [--agent ID] [--unit U] [--password-stdin] | list
hotline kb import FILE.json                 knowledge-base articles for the agent desktop
hotline catalogue import FILE.json | show   the dispatch catalogue (派单目录) the form suggests from
hotline recordings purge [--now ISO]        remove recordings' audio past its retention
hotline quality report --from D --to D [--json]   per-agent quality review (质检) scores
hotline softphone config AGENT [--write DIR] [--no-sound-card]   baresip for an agent's seat
hotline simulate --roster R.csv (--trace T.csv | --calls-per-day N --aht S) [--json]   simulator
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hotline.base.settings import Config, ConfigError, load_config
from hotline.calendar.cli import add_calendar_parser
from hotline.desk.cli import add_kb_parser, add_user_parser
from hotline.desk.softphone_cli import add_softphone_parser
from hotline.recordings.cli import add_recordings_parser
from hotline.speech.cli import add_ivr_parser
from hotline.tickets.catalogue_cli import add_catalogue_parser


def _load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("panoramisk").setLevel(logging.WARNING if not verbose else logging.DEBUG)
    # Libraries' INFO lines (alembic announces its plugins and each migration: nine lines per
    # command) only with --verbose; the engine's own INFO stays.
    for noisy in ("alembic", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _me() -> str:
    """How to run hotline from the user's shell: ``hotline`` when that name on the PATH is this
    program, else its path (``.venv/bin/hotline`` after ``make run``), so every command the
    banner prints works as printed."""
    found = shutil.which("hotline")
    mine = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if found and mine is not None and Path(found).resolve() == mine:
        return "hotline"
    beside = Path(sys.executable).parent / "hotline"
    if beside.exists():
        try:
            return str(beside.relative_to(Path.cwd()))
        except ValueError:
            return str(beside)
    return "hotline"


def _first_login(cfg: Config, me: str) -> str:
    """The desktop's accounts, or the exact command that makes the first one."""
    try:
        from hotline.desk.users import UserStore

        store = UserStore(cfg.database_url)
        try:
            users = store.list()
        finally:
            store.dispose()
    except Exception:  # a fresh database has no users table until the engine migrates it
        users = []
    if users:
        return f"{len(users)} desktop account(s): {me} user list"
    agent = cfg.agents[0].id if cfg.agents else "1001"
    return (
        "no desktop account yet; make the first (the password is asked, never shown):\n"
        f"       {me} user add agent{agent} --role agent --agent {agent}\n"
        f"       {me} user add boss --role supervisor    (a phone: {me} user edit boss --agent ID)"
    )


async def _serve(cfg: Config) -> int:
    from hotline.app.engine import run_engine

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await run_engine(cfg, stop)


def cmd_engine(args: argparse.Namespace) -> int:
    cfg = _load(args)
    tag = getattr(args, "cluster_engine", None)
    if tag:  # one of `up --cluster`'s two engines (hotline/cluster/local.py)
        from hotline.cluster.local import ENGINE_TAGS, demo_cluster, engine_pair

        cfg = engine_pair(demo_cluster(cfg))[ENGINE_TAGS.index(tag)]
    return asyncio.run(_serve(cfg))


def _managed(cfg: Config) -> Any:
    from hotline.asterisk.instance import ManagedAsterisk

    return ManagedAsterisk(cfg)


def cmd_up(args: argparse.Namespace) -> int:
    cfg = _load(args)
    if getattr(args, "cluster", False):
        return _up_cluster(cfg, args)
    from hotline.base.localservices import start_managed, stop_all
    from hotline.base.secrets import api_token

    # The centre's own Redis and Mosquitto, with credentials generated into the state directory
    # (the machine's own, on 6379/1883, may let anyone in: the centre does not use them).
    services = start_managed(cfg)
    asterisk = None
    try:
        if cfg.asterisk.mode == "managed":
            asterisk = _managed(cfg)
            print("starting Asterisk 22 (first run builds its root filesystem, about a minute)...")
            asterisk.start()
        else:
            print(f"using the external Asterisk at AMI {cfg.ami.host}:{cfg.ami.port}")
        api_token(cfg.paths.state_dir, cfg.http.api_token)  # generated now, shown never
        print(_banner(cfg))
        asyncio.run(_serve(cfg))
    finally:
        if asterisk is not None:
            asterisk.stop()
        stop_all(services)
    return 0


def _up_cluster(cfg: Config, args: argparse.Namespace) -> int:
    """The edge, two Asterisk nodes in their own network namespaces, and two engines: "a" in
    this process, "b" standing by in its own."""
    from hotline.base.localservices import start_managed, stop_all
    from hotline.base.secrets import api_token
    from hotline.cluster.local import LocalCluster, StandbyEngine, demo_cluster, engine_pair

    cfg = demo_cluster(cfg)
    first, second = engine_pair(cfg)
    services = start_managed(cfg)
    cluster = LocalCluster(cfg)
    standby = StandbyEngine(second, args.config, verbose=args.verbose)
    try:
        print("starting the edge (Kamailio) and the Asterisk nodes...")
        cluster.start()
        api_token(cfg.paths.state_dir, cfg.http.api_token)
        standby.start()
        print(_cluster_banner(cfg, cluster.banner() + "\n" + _engines_banner(first, standby)))
        asyncio.run(_serve(first))
    finally:
        standby.stop()
        cluster.stop()
        stop_all(services)
    return 0


def _engines_banner(first: Config, standby: Any) -> str:
    b = standby.cfg
    pid = standby.proc.pid if standby.proc is not None else "?"
    return (
        f"  engine a       this process, HTTP http://{first.http.host}:{first.http.port}\n"
        f"  engine b       pid {pid}, HTTP http://{b.http.host}:{b.http.port}, "
        f"log {standby.log_path}\n"
        f"                 one leads (lease in Redis), the other stands by: kill -9 the leader\n"
        f"                 and the other leads within 3 s; `{_me()} status` names the leader"
    )


def _cluster_banner(cfg: Config, parts: str) -> str:
    state = cfg.paths.state_dir
    api = f"http://{cfg.http.host}:{cfg.http.port}"
    e = cfg.edge
    agent = next((a for a in cfg.agents if a.sip_password), None)
    agent_id = agent.id if agent is not None else "1001"
    me = _me()
    return f"""
12345 hotline cluster running (two engines, a leader and a standby, over {len(cfg.nodes)} \
Asterisk nodes)
{parts}
  engines        FastAGI port {cfg.fastagi.port} on the nodes' side (shared), HTTP {api}
                 (token in {state}/api-token, never printed)
  agents         {", ".join(f"{a.id} ({a.dial_string})" for a in cfg.agents)}

Place a test call:
  1. register a softphone at the edge: user {agent_id}, server {e.listen}:{e.port},
     password in {state}/sip-password-{agent_id}; log the agent in and ready:
       curl -H "Authorization: Bearer $(cat {state}/api-token)" -X POST \\
         {api}/api/v1/agents/{agent_id}/login   (then .../ready)
  2. be the carrier: send INVITE sip:{e.dialled}@{e.listen}:{e.port}, e.g. with sipp
       sipp {e.listen}:{e.port} -sf tests/data/sipp/carrier-edge-uac.xml -i {e.listen} \\
         -p 15090 -m 1 -d 20000
     the edge sends it to a node (round robin); the call record names the node.
  3. watch: {me} status   (nodes and calls; call ids are <node>-<epoch>.<n>)
Ctrl-C stops the engine, the nodes and the edge (and removes the namespaces).
"""


def _banner(cfg: Config) -> str:
    """What is running and how to place a test call; no secret in it (a terminal scrolls into
    logs and screenshots): the token and passwords are named by the file that holds them."""
    from hotline.base.secrets import GENERATE, mask_text

    state = cfg.paths.state_dir
    agents = ", ".join(f"{a.id} ({a.dial_string})" for a in cfg.agents)
    api = f"http://{cfg.http.host}:{cfg.http.port}"
    token = "$(cat " + str(state / "api-token") + ")" if not cfg.http.api_token else "$TOKEN"
    first = next((a for a in cfg.agents if a.sip_password), None)
    if first is None:
        softphone = "give an agent a sip_password to register a softphone"
    elif first.sip_password == GENERATE:
        softphone = f"password in {state}/sip-password-{first.id}"
    else:
        softphone = "password: agents.sip_password in the configuration"
    agent = first.id if first is not None else "1001"
    redis = mask_text(cfg.redis.url)
    me = _me()
    desk = f"{api}/desk/"
    return f"""
12345 hotline engine running
  Asterisk AMI   {cfg.ami.host}:{cfg.ami.port}   SIP {cfg.asterisk.sip_bind}:{cfg.asterisk.sip_port}
  FastAGI IVR    {cfg.fastagi.host}:{cfg.fastagi.port}
  desktop        {desk}   (agents, wallboard; Chinese, English at the top)
                 {_first_login(cfg, me)}
  HTTP API       {api}   (token in {state}/api-token, never printed)
  ticket store   {mask_text(cfg.database_url)}
  Redis {redis}   MQTT {cfg.mqtt.host}:{cfg.mqtt.port} topics {cfg.mqtt.topic_prefix}/#
  agents         {agents}

Place a test call:
  1. the agent's phone: the desktop's browser softphone (log in as agent{agent}, then
     用本浏览器签入坐席 / Log in with this browser), or baresip:
     {me} softphone config {agent} --write DIR, or any
     softphone as agent {agent} (user {agent}, {softphone}, server
     {cfg.asterisk.sip_bind}:{cfg.asterisk.sip_port}); log the agent in:
       curl -H "Authorization: Bearer {token}" -X POST {api}/api/v1/agents/{agent}/login
       curl -H "Authorization: Bearer {token}" -X POST {api}/api/v1/agents/{agent}/ready
  2. dial 12345 from another agent's softphone, or from the Asterisk console:
       {me} asterisk cli "channel originate Local/12345@citizen application Wait 60"
  3. watch: mosquitto_sub -p {cfg.mqtt.port} -u {cfg.mqtt.display_username} -P "$(cat \\
       {cfg.paths.state_dir}/secrets/mqtt-display-password)" -v -t '{cfg.mqtt.topic_prefix}/#'
     (a display's feed: no numbers or transcripts)   and   {me} status
Ctrl-C stops the engine and Asterisk.
"""


def cmd_asterisk(args: argparse.Namespace) -> int:
    cfg = _load(args)
    asterisk = _managed(cfg)
    if args.action == "build":
        from hotline.asterisk.rootfs import ensure_rootfs

        print(ensure_rootfs(cfg))
    elif args.action == "start":
        asterisk.start()
        print(f"Asterisk instance {cfg.asterisk.instance} running; AMI {cfg.ami.port}")
    elif args.action == "stop":
        asterisk.stop()
    elif args.action == "status":
        print("running" if asterisk.is_running() else "stopped")
        return 0 if asterisk.is_running() else 3
    elif args.action == "install-config":
        print(f"configuration written to {install_external_config(cfg)}")
    elif args.action == "cli":
        print(asterisk.cli(" ".join(args.command)))
    return 0


def install_external_config(cfg: Config) -> Path:
    """external mode: write our dialplan, PJSIP, AMI... files where that Asterisk reads them."""
    from hotline.asterisk.render import render_all, write_all

    target = cfg.asterisk.config_install_path
    if target is None:
        raise ConfigError(
            "asterisk.config_install_path: set it to install into an external Asterisk"
        )
    # http.conf names the wss:// certificate and key beside it: written there with the rest
    # (the asterisk group reads them; the state directory is root's alone).
    where = {"etc_dir": str(target)} if cfg.webrtc.enabled else {}
    write_all(render_all(cfg, where, managed=False), target, mode=0o640, group_of_target=True)
    if cfg.webrtc.enabled:
        from hotline.asterisk.webrtc import chroot_tls_files

        write_all(chroot_tls_files(cfg), target, mode=0o640, group_of_target=True)
    return target


def cmd_db(args: argparse.Namespace) -> int:
    from hotline.app.migrate import upgrade

    cfg = _load(args)
    upgrade(cfg.database_url)
    print(f"ticket store at {cfg.database_url} is at the latest schema")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    cfg = _load(args)
    if args.action == "show":
        from hotline.base.secrets import masked

        shown = masked(cfg.model_dump(mode="json"))  # secrets never reach a terminal or a log
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print("configuration is valid")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from hotline.base.secrets import api_token

    cfg = _load(args)
    token = api_token(cfg.paths.state_dir, cfg.http.api_token)
    url = f"http://{cfg.http.host}:{cfg.http.port}/api/v1/status"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            data = json.load(resp)
        if args.json:
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            from hotline.app.statusview import format_status

            print(format_status(data))
    except (urllib.error.URLError, OSError) as exc:
        print(f"the engine is not answering at {url}: {exc}", file=sys.stderr)
        return 3
    return 0


def _calendar(cfg: Config) -> Any:
    """The centre's calendar with its imported arrangements (without them if the store is
    away: the plan then says which day types it used)."""
    from hotline.calendar.service import CalendarService
    from hotline.tickets.service import TicketService, settings_from_config
    from hotline.tickets.store import TicketStore

    service = CalendarService(
        TicketService(TicketStore(cfg.database_url), settings_from_config(cfg.tickets))
    )
    try:
        service.load()
    except Exception as exc:
        logging.getLogger(__name__).warning("calendar imports not read: %s", exc)
    finally:
        service.tickets.store.dispose()
    return service.calendar


def cmd_staffing(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from datetime import date

    from hotline.acd.staffing import format_plan, history_window, plan_day
    from hotline.calls.store import CallRecordStore

    cfg = _load(args)
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print(f"--date: {args.date!r} is not a date like 2026-10-15", file=sys.stderr)
        return 2
    start, end = history_window(day, args.history_days)
    store = CallRecordStore(cfg.database_url, cfg.spool_dir)
    try:
        records = store.list_between(start, end)
    finally:
        store.dispose()
    plan = plan_day(
        day, records, goal=args.goal, wrapup_s=cfg.acd.wrapup_s, calendar=_calendar(cfg)
    )
    if args.json:
        print(json.dumps(asdict(plan), default=str, indent=2))
    else:
        print(format_plan(plan))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Calls and tickets for --from .. --to (Beijing days, inclusive); see
    hotline/tickets/reports.py."""
    if not args.verbose:  # alembic announces its plugins at INFO on import: noise in a report
        logging.getLogger("alembic").setLevel(logging.WARNING)
    from datetime import UTC, datetime

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from hotline.app.migrate import current
    from hotline.base.db import lease_engine
    from hotline.tickets.reports import Period, build_report, format_report

    cfg = _load(args)
    try:
        period = Period.parse(args.date_from, args.date_to)
    except ValueError as exc:
        print(f"hotline report: {exc}", file=sys.stderr)
        return 2
    shown = make_url(cfg.database_url).render_as_string(hide_password=True)
    try:
        if current(cfg.database_url) is None:  # do not create an empty SQLite file to report on
            print(
                f"hotline report: no ticket store at {shown}; run `hotline db upgrade`",
                file=sys.stderr,
            )
            return 3
        lease = lease_engine(cfg.database_url)
        try:
            report = build_report(lease.engine, period, datetime.now(UTC))
        finally:
            lease.release()
    except SQLAlchemyError as exc:
        print(f"hotline report: cannot read the ticket store at {shown}: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 0


def cmd_speech(args: argparse.Namespace) -> int:
    from hotline.speech.service import SpeechService
    from hotline.speech.vosk_models import ModelError, install_model

    cfg = _load(args)
    service = SpeechService(cfg)
    if args.action == "install-model":
        try:
            entry = install_model(args.source, args.lang, service.models_dir, args.sha256)
        except ModelError as exc:
            print(f"hotline speech: {exc}", file=sys.stderr)
            return 2
        print(f"installed {entry.name} for {entry.lang} at {entry.path}")
        if args.lang in cfg.speech.models:
            print(f"note: speech.models.{args.lang} in the configuration still takes precedence")
        elif args.lang not in service.languages():
            print(f"note: add {args.lang!r} to speech.languages to offer speech intake in it")
        return 0
    if args.load:
        asyncio.run(service.warm_up())  # proves each model loads; a failure turns it off
    if args.json:
        print(json.dumps(service.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(service.status_lines()))
    return 0 if all(s.enabled for s in service.status()) else 3


def cmd_simulate(args: argparse.Namespace) -> int:
    """A day (or a trace) through the ACD core or the app_queue model, on a virtual clock."""
    from hotline.acd.core import AcdPolicy
    from hotline.simulation.files import (
        SimFileError,
        generate_trace,
        read_roster,
        read_trace,
        skill_mix,
        write_trace,
    )
    from hotline.simulation.simulator import Scenario, figures_json, format_figures, simulate

    def fail(message: str) -> int:
        print(f"hotline simulate: {message}", file=sys.stderr)
        return 2

    cfg = _load(args)
    policy = AcdPolicy.from_config(cfg.acd)  # what the engine would run
    if args.trace is None and (args.calls_per_day is None or args.aht is None):
        return fail("give --trace TRACE.csv, or --calls-per-day N and --aht SECONDS")
    if args.trace is not None and (args.calls_per_day is not None or args.aht is not None):
        return fail("--calls-per-day and --aht generate a trace: not with --trace")
    if not 0 <= args.ring_delay <= policy.ring_timeout_s:
        return fail(f"--ring-delay must be within 0..{policy.ring_timeout_s:g} (ring time-out)")
    try:
        roster = read_roster(args.roster)
        if args.trace is not None:
            trace = read_trace(args.trace)
        else:
            if args.calls_per_day < 1 or not args.aht > 0:
                return fail("--calls-per-day must be >= 1 and --aht > 0")
            trace = generate_trace(args.calls_per_day, args.aht, skill_mix(roster),
                                   shape=args.day_shape, mean_patience_s=args.patience,
                                   seed=args.seed)  # fmt: skip
            if args.save_trace is not None:
                write_trace(args.save_trace, trace)
    except SimFileError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{args.save_trace}: cannot write it: {exc.strerror or exc}")
    staffed = {name for agent in roster for name, _ in agent.skills}
    for skill in sorted({c.skill for c in trace} - staffed):
        n = sum(1 for c in trace if c.skill == skill)
        print(f"hotline simulate: warning: no agent has skill {skill!r} ({n} calls)",
              file=sys.stderr)  # fmt: skip
    last = max(c.arrival_at for c in trace)
    scenario = Scenario(
        roster=roster, trace=trace, policy=policy, router=args.policy, seed=args.seed,
        ring_s=args.ring_delay, callback_accept_p=args.callback_accept,
        callback_answer_p=args.callback_answer, callback_ring_s=cfg.acd.callback_ring_s,
        duration_s=max(last + 1.0, 86400.0 if args.trace is None else 0.0),
    )  # fmt: skip
    result = simulate(scenario)
    if args.json:
        print(json.dumps(figures_json(result), indent=2, ensure_ascii=False))
    else:
        print(f"{result.offered} calls, {len(roster)} agents, policy {args.policy}, "
              f"seed {args.seed} ({result.wall_s:.1f} s)")  # fmt: skip
        print(format_figures(result))
    return 0


def _probability(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability in 0..1")
    return value


def _add_simulate(sub: Any) -> None:
    from hotline.simulation.files import DAY_SHAPES
    from hotline.simulation.simulator import ROUTERS

    sim = sub.add_parser(
        "simulate", help="simulate a trace or a generated day (offered, answered, SL 15 s...)"
    )
    sim.add_argument(
        "--roster",
        type=Path,
        required=True,
        help="agents: agent,skills,shift_start_s,shift_end_s (skills zh:1;social:2)",
    )
    sim.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="calls: arrival_time_s,caller,"
        "skill,priority,patience_s,handle_time_s (else one is generated)",
    )
    sim.add_argument(
        "--policy",
        choices=sorted(ROUTERS),
        default="ours",
        help="ours: the ACD core with the [acd] policy; fifo-per-queue: app_queue",
    )
    sim.add_argument("--json", action="store_true", help="the figures as JSON")
    sim.add_argument("--seed", type=int, default=0, help="random seed (0)")
    gen = sim.add_argument_group("a generated day (without --trace)")
    gen.add_argument("--calls-per-day", type=int, default=None, help="calls in the day")
    gen.add_argument("--aht", type=float, default=None, help="mean handle (talk) time, seconds")
    gen.add_argument("--day-shape", choices=sorted(DAY_SHAPES), default="workday")
    gen.add_argument(
        "--patience",
        type=float,
        default=None,
        help="callers' mean patience in seconds (exponential; default: never hang up)",
    )
    gen.add_argument("--save-trace", type=Path, default=None, help="write the generated trace")
    world = sim.add_argument_group("the simulated world")
    world.add_argument(
        "--ring-delay",
        type=float,
        default=0.0,
        help="seconds an agent's phone rings before the agent answers (0)",
    )
    world.add_argument(
        "--callback-accept",
        type=_probability,
        default=0.0,
        help="probability that a caller offered a callback takes it (0)",
    )
    world.add_argument(
        "--callback-answer",
        type=_probability,
        default=1.0,
        help="probability that a called-back citizen answers (1)",
    )
    sim.set_defaults(func=cmd_simulate)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="TOML configuration file (default: $HOTLINE_CONFIG, else built-in)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Asterisk and the engine")
    up.add_argument(
        "--cluster",
        action="store_true",
        help="the edge (Kamailio) and two Asterisk nodes in network namespaces (docs/CLUSTER.md)",
    )
    up.set_defaults(func=cmd_up)
    engine = sub.add_parser("engine", help="run the engine only")
    engine.add_argument(
        "--cluster-engine",
        choices=["a", "b"],
        default=None,
        help="be engine a or b of `up --cluster` (standby on the same lease; b: HTTP port + 1)",
    )
    engine.set_defaults(func=cmd_engine)
    ast = sub.add_parser("asterisk", help="manage the bundled Asterisk")
    ast.add_argument(
        "action", choices=["build", "start", "stop", "status", "cli", "install-config"]
    )
    ast.add_argument("command", nargs="*")
    ast.set_defaults(func=cmd_asterisk)
    db = sub.add_parser("db", help="ticket store")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)
    conf = sub.add_parser("config", help="check or show the configuration")
    conf.add_argument("action", choices=["check", "show"])
    conf.set_defaults(func=cmd_config)
    staffing = sub.add_parser(
        "staffing", help="agents needed per half hour for a day (Erlang C, 15 s target)"
    )
    staffing.add_argument("--date", required=True, help="the day to plan, YYYY-MM-DD")
    staffing.add_argument("--goal", type=float, default=0.95, help="service level goal (0.95)")
    staffing.add_argument(
        "--history-days", type=int, default=56, help="days of call records to learn from (56)"
    )
    staffing.add_argument("--json", action="store_true")
    staffing.set_defaults(func=cmd_staffing)
    status = sub.add_parser("status", help="what the running engine is doing")
    status.add_argument("--json", action="store_true", help="the raw status JSON")
    status.set_defaults(func=cmd_status)
    rep = sub.add_parser("report", help="calls and tickets for a period (the hotline's figures)")
    rep.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    rep.add_argument("--to", dest="date_to", required=True, help="last day (inclusive)")
    rep.add_argument("--json", action="store_true", help="the report as JSON")
    rep.set_defaults(func=cmd_report)
    speech = sub.add_parser("speech", help="offline speech intake: Vosk models per language")
    speech_sub = speech.add_subparsers(dest="action", required=True)
    install = speech_sub.add_parser("install-model", help="check and install a Vosk model")
    install.add_argument("source", type=Path, help="the model's zip or unpacked directory")
    install.add_argument("--lang", default="zh", help="language the model serves (zh)")
    install.add_argument("--sha256", default=None, help="checksum the zip must have")
    speech_status = speech_sub.add_parser("status", help="which languages have speech intake")
    speech_status.add_argument("--load", action="store_true", help="load each model (slow)")
    speech_status.add_argument("--json", action="store_true")
    speech.set_defaults(func=cmd_speech)
    _add_simulate(sub)
    add_user_parser(sub)  # hotline user add|list: web desktop accounts (agents/web)
    add_kb_parser(sub)  # hotline kb import FILE.json: the agents' knowledge base (agents/web)
    add_ivr_parser(sub)  # hotline ivr recognise|classify: the IVR's speech decision (ivr/)
    add_recordings_parser(sub)  # hotline recordings purge, hotline quality report (recordings/)
    add_calendar_parser(sub)  # hotline calendar status|import: the centre's calendar (tickets/)
    add_catalogue_parser(sub)  # hotline catalogue import|show: the dispatch catalogue (tickets/)
    add_softphone_parser(sub)  # hotline softphone config AGENT: baresip for a desk seat (webrtc)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hotline.base.filemodes import UMASK

    # Everything hotline writes (secrets, the database, audio, Asterisk's files) is root's alone.
    os.umask(UMASK)
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"hotline: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from hotline.app.engine import StartupError
        from hotline.base.localservices import ServiceStartError

        if isinstance(exc, StartupError | ServiceStartError):
            print(f"hotline: cannot start: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
