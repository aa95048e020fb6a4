"""Our ACD against Asterisk's app_queue, on the real Asterisk 22, with one seeded trace.

Issue 3, must show 4. The same trace (Poisson arrivals over three skills, each call with its
handle time and its caller's patience) is played into our ACD (the engine as a subprocess, as
in production) and into app_queue (``Queue()`` on one queue per skill, the same agents as
dynamic members, penalty = skill level - 1) with each of its strategies leastrecent, rrmemory and
fewestcalls, one after the other on the same Asterisk instance.

Both sides get the same world, built in asterisk-config/extensions-bench.conf:

- a caller is an AMI Originate into ``bench-hotline`` (our 12345 path minus the IVR, so the
  engine sees ordinary HotlineArrived/HotlineIvrExit/HotlineQueued events) or
  ``bench-appqueue`` (``Queue()``), placed at its arrival time;
- an agent's phone is ``Local/<agent>@bench-agent``: it rings (about 0.5 s, see RING_WAIT_S),
  answers, talks for the call's handle time and hangs up; wrap-up is 0 on both sides;
- the caller hangs up after its patience unless an agent answered first (this driver sends the
  Hangup; the same rule on both sides).

Everything measured comes from the same user events with Asterisk's own timestamps
(BenchQueued, BenchAgentRing, BenchAgentAnswer, BenchAgentFree, BenchCallerGone), so the two
sides are measured identically:

- wait = BenchQueued -> BenchAgentAnswer; service level = answered within 15 s / offered;
  answer rate = answered / offered; ASA = mean wait of answered calls; abandon rate =
  callers who hung up before an answer / offered.
- dispatch latency = an agent's phone hanging up (BenchAgentFree) -> that agent's phone
  ringing again (BenchAgentRing), counted only when, at the moment the agent became free, a
  call it is qualified for was waiting and not ringing anyone, and the next ring is one of
  those calls (otherwise the gap measures the arrival process, not the dispatcher).

Time is compressed (handle times of seconds, not minutes) so the four runs take about nine
minutes; the ratios, not the absolute numbers, are the result. Run:
``python -m bench appqueue_vs_acd`` or ``python bench/appqueue_vs_acd.py [--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support_asterisk import (
    AmiDriver,
    BenchAgent,
    BenchSetupError,
    BenchSite,
    EngineProcess,
)

TARGET_S = 15.0
STRATEGIES = ("leastrecent", "rrmemory", "fewestcalls")
SKILL_SHARES = {"consult": 0.55, "social": 0.25, "market": 0.20}
RING_S = 0.5
# Answer() on a ringing channel waits up to 500 ms for the first media frame, and the agent
# half of a Local channel gets none before it is bridged, so Answer() alone rings 0.5 s;
# [bench-agent] waits the rest (RING_WAIT_S) before it. The ring time measured is printed.
RING_WAIT_S = max(0.0, RING_S - 0.5)
HANDLE_MIN_S, HANDLE_EXTRA_MEAN_S, HANDLE_MAX_S = 4.0, 3.0, 15.0
PATIENCE_MEAN_S, PATIENCE_MIN_S, PATIENCE_MAX_S = 20.0, 5.0, 40.0


def _roster(*groups: tuple[int, Mapping[str, int]]) -> tuple[BenchAgent, ...]:
    agents: list[BenchAgent] = []
    for count, skills in groups:
        for _ in range(count):
            agents.append(BenchAgent(str(2001 + len(agents)), dict(skills)))
    return tuple(agents)


# 20 agents, 5 of them with a second skill at level 2 (taken only when no level-1 agent of
# that skill is free, on both sides: our best-level-first rule, app_queue's penalty).
ROSTER = _roster(
    (8, {"consult": 1}),
    (4, {"social": 1}),
    (3, {"market": 1}),
    (2, {"consult": 1, "social": 2}),
    (2, {"social": 1, "market": 2}),
    (1, {"market": 1, "consult": 2}),
)


# --- the trace -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceCall:
    n: int
    arrival_s: float
    skill: str
    handle_s: float
    patience_s: float


def make_trace(seed: int, calls: int, window_s: float) -> tuple[TraceCall, ...]:
    """`calls` Poisson arrivals at calls/window_s per second; draws from per-purpose streams."""
    rng = {k: random.Random(f"{seed}/{k}") for k in ("arr", "skill", "handle", "pat")}
    skills, shares = zip(*SKILL_SHARES.items(), strict=True)
    rate = calls / window_s
    t = 0.0
    out = []
    for n in range(calls):
        t += rng["arr"].expovariate(rate)
        handle = HANDLE_MIN_S + rng["handle"].expovariate(1.0 / HANDLE_EXTRA_MEAN_S)
        patience = rng["pat"].expovariate(1.0 / PATIENCE_MEAN_S)
        out.append(
            TraceCall(
                n=n,
                arrival_s=round(t, 3),
                skill=rng["skill"].choices(skills, shares)[0],
                handle_s=round(min(HANDLE_MAX_S, handle), 1),
                patience_s=round(min(PATIENCE_MAX_S, max(PATIENCE_MIN_S, patience)), 1),
            )
        )
    return tuple(out)


# --- the two sides -------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    key: str  # "acd" or the app_queue strategy
    label: str
    entry: str  # dialplan context the caller enters

    def call_id(self, call: TraceCall) -> str:
        return f"{self.key}-{call.n:04d}"

    def variables(self, call: TraceCall) -> list[str]:
        out = [
            f"BENCH_CALL={self.call_id(call)}",
            f"BENCH_SKILL={call.skill}",
            f"BENCH_HANDLE={call.handle_s}",
        ]
        if self.entry == "bench-appqueue":
            out.append(f"BENCH_QUEUE=bench-{self.key}-{call.skill}")
        return out


OURS = Side("acd", "our ACD", "bench-hotline")


def app_queue(strategy: str) -> Side:
    return Side(strategy, f"app_queue {strategy}", "bench-appqueue")


# --- one run: play the trace, record the events --------------------------------------------


@dataclass(frozen=True)
class BenchEvent:
    ts: float  # Asterisk's timestamp
    kind: str  # BenchQueued, BenchAgentRing, ...
    call: str
    agent: str


@dataclass
class RunLog:
    side: Side
    events: list[BenchEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    undecided: int = 0
    cut_at: float = math.inf  # wall clock when the bench hung up the calls still talking


class Player:
    """Plays a trace into one side; hangs callers up when their patience runs out."""

    def __init__(self, driver: AmiDriver, side: Side, trace: Sequence[TraceCall]) -> None:
        self.driver = driver
        self.side = side
        self.trace = {side.call_id(c): c for c in trace}
        self.log = RunLog(side)
        self.answered: set[str] = set()
        self.gone: set[str] = set()
        self.failed: set[str] = set()
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.all_decided = asyncio.Event()

    def on_user_event(self, name: str, h: dict[str, Any]) -> None:
        call = str(h.get("Call", ""))
        if not name.startswith("Bench") or call not in self.trace:
            return  # the engine's events, or a straggler of an earlier run
        try:
            ts = float(h["Timestamp"])
        except (KeyError, ValueError):
            self.log.errors.append(f"{name} without a Timestamp (timestampevents off?)")
            return
        self.log.events.append(BenchEvent(ts, name, call, str(h.get("Agent", ""))))
        if name == "BenchQueued":
            # Patience counts from queue entry, by Asterisk's clock (same host as ours).
            delay = self.trace[call].patience_s - (time.time() - ts)
            loop = asyncio.get_running_loop()
            self.timers[call] = loop.call_later(max(0.0, delay), self._give_up, call)
        elif name == "BenchAgentAnswer":
            self.answered.add(call)
            self._stop_timer(call)
        elif name == "BenchCallerGone":
            self.gone.add(call)
            self._stop_timer(call)
        self._check_decided()

    def _stop_timer(self, call: str) -> None:
        timer = self.timers.pop(call, None)
        if timer is not None:
            timer.cancel()

    def _check_decided(self) -> None:
        if len(self.answered | self.gone | self.failed) == len(self.trace):
            self.all_decided.set()

    def _give_up(self, call: str) -> None:
        self.timers.pop(call, None)
        if call not in self.answered and call not in self.gone:
            self._spawn(self._hangup(call))

    async def _hangup(self, call: str) -> None:
        # The citizen's phone (the ;1 half, whose Uniqueid we chose) hangs up.
        with contextlib.suppress(RuntimeError, TimeoutError):
            await self.driver.send({"Action": "Hangup", "Channel": f"bench-{call}", "Cause": "16"})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _originate(self, call: TraceCall) -> None:
        call_id = self.side.call_id(call)
        action = {
            "Action": "Originate",
            "Channel": f"Local/s@{self.side.entry}",
            "Context": "bench-caller",
            "Exten": "s",
            "Priority": "1",
            "CallerID": f'"bench" <139{call.n:08d}>',
            "ChannelId": f"bench-{call_id}",
            "OtherChannelId": f"bench-{call_id}-q",
            "Variable": self.side.variables(call),
            "Async": "true",
        }
        try:
            response = await self.driver.send(action, timeout=30)
            final = response[-1] if isinstance(response, list) else response
            if str(final.get("Response", "")).lower() != "success":
                raise RuntimeError(f"OriginateResponse {final.get('Reason')}")
        except (RuntimeError, TimeoutError) as exc:
            self.log.errors.append(f"{call_id}: originate failed: {exc}")
            self.failed.add(call_id)
            self._check_decided()

    async def play(self, drain_s: float) -> RunLog:
        loop = asyncio.get_running_loop()
        self.driver.on_user_event = self.on_user_event
        started = loop.time()
        try:
            for call in sorted(self.trace.values(), key=lambda c: c.arrival_s):
                delay = started + call.arrival_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._check_connected()
                self._spawn(self._originate(call))
            # Every call is decided (answered, or its caller gone) within its patience; what
            # happens after that (talk time running out) adds nothing to the figures.
            decided = asyncio.ensure_future(self.all_decided.wait())
            lost = asyncio.ensure_future(self.driver.lost.wait())
            await asyncio.wait({decided, lost}, timeout=drain_s, return_when="FIRST_COMPLETED")
            decided.cancel()
            lost.cancel()
            self._check_connected()
            self.log.undecided = len(self.trace) - len(self.answered | self.gone | self.failed)
            self.log.wall_s = loop.time() - started
        finally:
            for timer in self.timers.values():
                timer.cancel()
            for task in list(self.tasks):
                task.cancel()
            self.driver.on_user_event = None
        self.log.cut_at = time.time()
        await hang_up_all(self.driver)
        return self.log

    def _check_connected(self) -> None:
        if self.driver.lost.is_set():
            raise BenchSetupError(
                f"AMI: the connection to Asterisk dropped while playing into {self.side.label} "
                "(did the bench instance stop?)"
            )


async def hang_up_all(driver: AmiDriver, timeout: float = 15.0) -> None:
    """End every bench call still up, and wait until Asterisk has no bench channel left."""
    deadline = time.monotonic() + timeout
    while True:
        left = [c for c in await driver.channels() if "@bench-" in str(c.get("Channel", ""))]
        if not left:
            return
        if time.monotonic() > deadline:
            names = ", ".join(str(c.get("Channel")) for c in left[:5])
            raise BenchSetupError(f"Asterisk: {len(left)} bench channels still up: {names}")
        with contextlib.suppress(RuntimeError, TimeoutError):
            await driver.send({"Action": "Hangup", "Channel": "/@bench-/", "Cause": "16"})
        await asyncio.sleep(0.5)


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    label: str
    offered: int
    answered: int
    abandoned: int
    undecided: int
    service_level: float
    answer_rate: float
    asa_s: float
    abandon_rate: float
    p90_wait_s: float
    max_wait_s: float
    dispatch_p50_ms: float
    dispatch_p95_ms: float
    dispatch_n: int
    ring_p50_s: float
    double_booked: int  # an agent rung while it already had a call: must be 0
    talk_error_p50_s: float  # |talk time - the trace's handle time|: handle times applied
    patience_error_p50_s: float  # |abandoned caller's wait - its patience|: the rule applied
    errors: int
    wall_s: float
    per_skill_sl: dict[str, float]


def _pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def dispatch_latencies(
    events: Iterable[BenchEvent],
    skills_of: Mapping[str, Iterable[str]],
    skill_of: Mapping[str, str],
) -> tuple[list[float], int]:
    """Free -> next ring per agent while a qualified call waited; also the double bookings.

    Replays the events in Asterisk's time order. A call waits from BenchQueued until it is
    answered or its caller is gone, except while it rings an agent.
    """
    waiting: set[str] = set()  # queued, not answered, caller still there, not ringing anyone
    ringing: dict[str, str] = {}  # call -> agent whose phone rings with it
    holding: dict[str, str] = {}  # agent -> call ringing or talking on its phone
    pending: dict[str, tuple[float, frozenset[str]]] = {}  # agent -> (free at, calls waiting)
    latencies: list[float] = []
    double = 0
    for ev in sorted(events, key=lambda e: e.ts):  # stable: ties keep arrival order
        if ev.kind == "BenchQueued":
            waiting.add(ev.call)
        elif ev.kind == "BenchAgentRing":
            if ev.agent in holding:
                double += 1
            holding[ev.agent] = ev.call
            waiting.discard(ev.call)
            ringing[ev.call] = ev.agent
            free = pending.pop(ev.agent, None)
            if free is not None and ev.call in free[1]:
                latencies.append(ev.ts - free[0])
        elif ev.kind == "BenchAgentAnswer":
            ringing.pop(ev.call, None)
        elif ev.kind == "BenchAgentFree":
            if holding.get(ev.agent) == ev.call:
                del holding[ev.agent]
            if ringing.get(ev.call) == ev.agent:  # the ring was cancelled: waiting again
                del ringing[ev.call]
                waiting.add(ev.call)
            qualified = set(skills_of.get(ev.agent, ()))
            candidates = frozenset(c for c in waiting if skill_of.get(c) in qualified)
            if candidates:
                pending[ev.agent] = (ev.ts, candidates)
            else:
                pending.pop(ev.agent, None)
        elif ev.kind == "BenchCallerGone":
            waiting.discard(ev.call)
            ringing.pop(ev.call, None)
            for agent, (at, calls) in list(pending.items()):
                if ev.call in calls:
                    pending[agent] = (at, calls - {ev.call})
    return latencies, double


def figures(log: RunLog, trace: Sequence[TraceCall], roster: Sequence[BenchAgent]) -> Figures:
    side = log.side
    skill_of = {side.call_id(c): c.skill for c in trace}
    first: dict[tuple[str, str], float] = {}
    for ev in log.events:
        first.setdefault((ev.kind, ev.call), ev.ts)
    queued = {c: ts for (kind, c), ts in first.items() if kind == "BenchQueued"}
    answered_at = {c: ts for (kind, c), ts in first.items() if kind == "BenchAgentAnswer"}
    waits = {c: answered_at[c] - queued[c] for c in answered_at if c in queued}
    offered = len(queued)
    gone_at = {c: ts for (kind, c), ts in first.items() if kind == "BenchCallerGone"}
    abandoned = sum(1 for c in queued if c not in answered_at and c in gone_at)
    within = sum(1 for w in waits.values() if w <= TARGET_S)
    rings = {(ev.agent, ev.call): ev.ts for ev in log.events if ev.kind == "BenchAgentRing"}
    ring_times = [
        ev.ts - rings[(ev.agent, ev.call)]
        for ev in log.events
        if ev.kind == "BenchAgentAnswer" and (ev.agent, ev.call) in rings
    ]
    handle_of = {side.call_id(c): c.handle_s for c in trace}
    answers = {(ev.agent, ev.call): ev.ts for ev in log.events if ev.kind == "BenchAgentAnswer"}
    talk_errors = [
        abs(ev.ts - answers[(ev.agent, ev.call)] - handle_of[ev.call])
        for ev in log.events
        if ev.kind == "BenchAgentFree" and (ev.agent, ev.call) in answers and ev.ts < log.cut_at
    ]
    patience_of = {side.call_id(c): c.patience_s for c in trace}
    patience_errors = [
        abs(gone_at[c] - queued[c] - patience_of[c])
        for c in queued
        if c not in answered_at and c in gone_at
    ]
    skills_of = {a.agent_id: tuple(a.skills) for a in roster}
    latencies, double = dispatch_latencies(log.events, skills_of, skill_of)
    per_skill: dict[str, float] = {}
    for skill in SKILL_SHARES:
        offered_k = [c for c in queued if skill_of[c] == skill]
        ok = sum(1 for c in offered_k if waits.get(c, math.inf) <= TARGET_S)
        per_skill[skill] = ok / len(offered_k) if offered_k else math.nan

    def rate(n: int) -> float:
        return n / offered if offered else math.nan

    return Figures(
        label=side.label,
        offered=offered,
        answered=len(waits),
        abandoned=abandoned,
        undecided=log.undecided,
        service_level=rate(within),
        answer_rate=rate(len(waits)),
        asa_s=statistics.fmean(waits.values()) if waits else math.nan,
        abandon_rate=rate(abandoned),
        p90_wait_s=_pct(list(waits.values()), 0.90),
        max_wait_s=max(waits.values(), default=math.nan),
        dispatch_p50_ms=_pct(latencies, 0.50) * 1000,
        dispatch_p95_ms=_pct(latencies, 0.95) * 1000,
        dispatch_n=len(latencies),
        ring_p50_s=_pct(ring_times, 0.50),
        double_booked=double,
        talk_error_p50_s=_pct(talk_errors, 0.50),
        patience_error_p50_s=_pct(patience_errors, 0.50),
        errors=len(log.errors),
        wall_s=log.wall_s,
        per_skill_sl=per_skill,
    )


# --- the runs ------------------------------------------------------------------------------


async def run_ours(
    site: BenchSite, driver: AmiDriver, trace: Sequence[TraceCall], drain_s: float
) -> RunLog:
    engine = EngineProcess(site)
    site.flush_redis()  # a fresh ACD: no state left from an earlier run
    await asyncio.to_thread(engine.start)
    try:
        for agent in ROSTER:
            await asyncio.to_thread(engine.agent, agent.agent_id, "login")
            await asyncio.to_thread(engine.agent, agent.agent_id, "ready")
        log = await Player(driver, OURS, trace).play(drain_s)
        if engine.proc is not None and engine.proc.poll() is not None:
            raise BenchSetupError(f"engine: died during the run:\n{engine.log_tail()}")
        problem = await settled(engine)
        if problem:
            log.errors.append(f"engine after the run: {problem}")
        return log
    finally:
        await asyncio.to_thread(engine.stop)


async def settled(engine: EngineProcess, timeout: float = 5.0) -> str:
    """Empty if the engine's ACD is back at rest (no call, every agent ready), else what is not.

    Every call has ended in Asterisk by now; an ACD still holding one, or an agent it never
    freed, would be a bug the figures alone might hide.
    """
    deadline = time.monotonic() + timeout
    problem = ""
    while time.monotonic() < deadline:
        status = await asyncio.to_thread(engine.status)
        busy = [a["agent_id"] for a in status.get("agents", []) if a.get("state") != "ready"]
        problem = f"{len(status.get('waiting', []))} calls held, agents not ready: {busy}"
        if not status.get("waiting") and not busy:
            return ""
        await asyncio.sleep(0.2)
    return problem


async def run_app_queue(
    driver: AmiDriver, strategy: str, trace: Sequence[TraceCall], drain_s: float
) -> RunLog:
    members = [
        (f"bench-{strategy}-{skill}", agent, level)
        for agent in ROSTER
        for skill, level in sorted(agent.skills.items())
    ]
    added: list[tuple[str, str]] = []
    try:
        for queue, agent, level in members:
            await driver.send(
                {
                    "Action": "QueueAdd",
                    "Queue": queue,
                    "Interface": agent.seat,
                    "Penalty": str(level - 1),  # level 1 -> penalty 0: tried first
                    "MemberName": agent.agent_id,
                },
                as_list=False,  # panoramisk would wait for a list that never comes
            )
            added.append((queue, agent.seat))
        return await Player(driver, app_queue(strategy), trace).play(drain_s)
    finally:
        # Removed members leave nothing behind (counters, last call) for the next strategy.
        for queue, interface in added:
            with contextlib.suppress(RuntimeError, TimeoutError):
                await driver.send(
                    {"Action": "QueueRemove", "Queue": queue, "Interface": interface},
                    as_list=False,
                )


async def run_all(site: BenchSite, args: argparse.Namespace) -> dict[str, Any]:
    trace = make_trace(args.seed, args.calls, args.window)
    drain_s = PATIENCE_MAX_S + HANDLE_MAX_S + 15.0
    driver = AmiDriver(site.cfg)
    await driver.connect()
    results: list[Figures] = []
    try:
        # The agents' ring time, read by [bench-agent] (a global: one setting for both sides).
        await driver.send({"Action": "Setvar", "Variable": "BENCH_RING", "Value": f"{RING_WAIT_S}"})
        await hang_up_all(driver)
        version = describe(site, trace, args)
        # Rows are printed as each run ends, so a run that breaks later keeps the earlier ones.
        print(HEADER)
        print("-" * len(HEADER), flush=True)
        for key in ["acd", *args.strategies]:
            if key == "acd":
                log = await run_ours(site, driver, trace, drain_s)
            else:
                log = await run_app_queue(driver, key, trace, drain_s)
            results.append(figures(log, trace, ROSTER))
            print(row(results[-1]), flush=True)
            for error in log.errors[:5]:
                print(f"    ! {error}", flush=True)
    finally:
        driver.close()
    return summary(version, trace, results, args)


# --- output --------------------------------------------------------------------------------

HEADER = (
    f"{'side':<24}{'offered':>8}{'answ.':>7}{'aband.':>7}{'SL15':>8}{'answer':>8}"
    f"{'ASA s':>7}{'abandon':>8}{'wait p90/max':>13}  {'dispatch p50/p95 ms (n)':<24}"
    f"{'ring s':>7}{'dbl':>4}{'wall s':>7}"
)


def _fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs and not math.isnan(theirs) else math.nan


def describe(site: BenchSite, trace: Sequence[TraceCall], args: argparse.Namespace) -> str:
    version = "?"
    with contextlib.suppress(Exception):
        version = site.asterisk.cli("core show version").split()[1]
    skills = ", ".join(f"{s} {sum(1 for c in trace if c.skill == s)}" for s in SKILL_SHARES)
    multi = sum(1 for a in ROSTER if len(a.skills) > 1)
    print(
        f"Asterisk {version}; trace seed {args.seed}: {len(trace)} calls over "
        f"{trace[-1].arrival_s:.0f} s ({skills}); {len(ROSTER)} agents ({multi} multi-skilled); "
        f"handle {HANDLE_MIN_S:.0f}-{HANDLE_MAX_S:.0f} s (mean "
        f"{statistics.fmean(c.handle_s for c in trace):.1f}), patience "
        f"{PATIENCE_MIN_S:.0f}-{PATIENCE_MAX_S:.0f} s, ring {RING_S} s, wrap-up 0\n",
        flush=True,
    )
    return version


def row(f: Figures) -> str:
    dispatch = f"{_fmt(f.dispatch_p50_ms, '.0f')} / {_fmt(f.dispatch_p95_ms, '.0f')} " + (
        f"({f.dispatch_n})"
    )
    waits = f"{_fmt(f.p90_wait_s, '.1f')} / {_fmt(f.max_wait_s, '.1f')}"
    return (
        f"{f.label:<24}{f.offered:>8}{f.answered:>7}{f.abandoned:>7}"
        f"{_fmt(100 * f.service_level, '.1f'):>7}%{_fmt(100 * f.answer_rate, '.1f'):>7}%"
        f"{_fmt(f.asa_s, '.2f'):>7}{_fmt(100 * f.abandon_rate, '.1f'):>7}%"
        f"{waits:>13}  {dispatch:<24}{_fmt(f.ring_p50_s, '.2f'):>7}"
        f"{f.double_booked:>4}{f.wall_s:>7.0f}"
    )


def summary(
    version: str, trace: Sequence[TraceCall], results: list[Figures], args: argparse.Namespace
) -> dict[str, Any]:
    ours, theirs = results[0], results[1:]
    # Ties (the same service level) go to the strategy with more answered, then shorter ASA.
    best = max(theirs, key=lambda f: (f.service_level, f.answer_rate, -f.asa_s)) if theirs else None
    for f in results:
        if f.undecided or f.errors or f.double_booked:
            print(
                f"  note {f.label}: {f.undecided} calls undecided at the end, {f.errors} errors, "
                f"{f.double_booked} rings to an agent already on a call"
            )
        if f.talk_error_p50_s > 0.2 or f.patience_error_p50_s > 0.2:
            print(
                f"  note {f.label}: talk times / patience differ from the trace's by "
                f"{f.talk_error_p50_s:.2f} / {f.patience_error_p50_s:.2f} s (median)"
            )
    if all(f.max_wait_s <= TARGET_S for f in results):
        print(
            f"  (no answered call waited over {TARGET_S:.0f} s on any side: with handle times "
            "compressed to seconds, the service level equals the answer rate and the sides "
            "differ in who gave up)"
        )
    ratios: dict[str, float] = {}
    if best is not None:
        ratios = {
            "service_level": _ratio(ours.service_level, best.service_level),
            "answer_rate": _ratio(ours.answer_rate, best.answer_rate),
            "asa": _ratio(ours.asa_s, best.asa_s),
            "abandon_rate": _ratio(ours.abandon_rate, best.abandon_rate),
            "dispatch_p50": _ratio(ours.dispatch_p50_ms, best.dispatch_p50_ms),
        }
        print(f"\nbest app_queue strategy by service level: {best.label.split()[-1]}")
        print(
            f"ours / app_queue: service level {_fmt(ratios['service_level'], '.3f')} "
            f"(goal >= 1), answer rate {_fmt(ratios['answer_rate'], '.3f')}, "
            f"ASA {_fmt(ratios['asa'], '.3f')}, abandon rate {_fmt(ratios['abandon_rate'], '.3f')},"
            f" dispatch p50 {_fmt(ratios['dispatch_p50'], '.3f')}"
        )
    print(
        f"our dispatch latency p50 {_fmt(ours.dispatch_p50_ms, '.1f')} ms (goal <= 50), "
        f"p95 {_fmt(ours.dispatch_p95_ms, '.1f')} ms, over {ours.dispatch_n} agent frees "
        "with a call waiting"
    )
    print(
        "service level per skill: "
        + "; ".join(
            f"{f.label}: "
            + ", ".join(f"{k} {_fmt(100 * v, '.0f')}%" for k, v in f.per_skill_sl.items())
            for f in results
        )
    )
    return {
        "bench": "appqueue_vs_acd",
        "asterisk": version,
        "trace": {
            "seed": args.seed,
            "calls": len(trace),
            "window_s": trace[-1].arrival_s,
            "skills": SKILL_SHARES,
            "agents": [asdict(a) for a in ROSTER],
            "ring_s": RING_S,
            "handle_s": [HANDLE_MIN_S, HANDLE_MAX_S],
            "patience_s": [PATIENCE_MIN_S, PATIENCE_MAX_S],
            "target_s": TARGET_S,
        },
        "sides": [asdict(f) for f in results],
        "best_app_queue": best.label if best is not None else None,
        "ratios_ours_over_best_app_queue": ratios,
    }


def _json_safe(value: Any) -> Any:
    # JSON has no NaN: a figure that does not exist (no answered call, ...) is null.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.appqueue_vs_acd", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--window", type=float, default=120.0, help="seconds the arrivals span")
    p.add_argument(
        "--strategies",
        type=lambda s: tuple(x for x in s.split(",") if x),
        default=STRATEGIES,
        help="app_queue strategies to run, comma-separated (default: all three)",
    )
    p.add_argument("--json", metavar="FILE", help="write the figures there (default: stdout)")
    p.add_argument("--keep", action="store_true", help="keep the state dir (engine log)")
    args = p.parse_args(list(argv))
    unknown = set(args.strategies) - set(STRATEGIES)
    if unknown:
        p.error(f"unknown strategy {', '.join(sorted(unknown))}; there are {STRATEGIES}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    # `python -m bench` calls main() with no arguments (its own argv names the benches).
    args = parse_args(argv or [])
    site = BenchSite(ROSTER, {"wrapup_s": 0, "ring_timeout_s": 15, "tick_s": 0.5})
    try:
        print(f"starting the managed Asterisk (instance bench, AMI {site.cfg.ami.port}) ...")
        site.start_asterisk()
        result = asyncio.run(run_all(site, args))
    except BenchSetupError as exc:
        raise SystemExit(f"appqueue_vs_acd: a real part did not work: {exc}") from None
    finally:
        site.close(keep_state=args.keep)
        if args.keep:
            print(f"(state and engine log kept in {site.state_dir})")
    text = json.dumps(_json_safe(result), indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    else:
        print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
