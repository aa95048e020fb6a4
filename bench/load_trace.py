"""One trace, simulated and played: ``python -m bench load_trace [--trace T.csv] [--speed 20]``.

The trace is in the simulator's format (simulation/files.py; without ``--trace`` a generated
12345 workday). The hours ``--from``-``--to`` of it are cut out and sped up ``--speed`` times
(arrivals and handle times divided by it: a peak hour in minutes), then the same calls are

- simulated (``hotline simulate``'s simulator around the real ACD core, ``--agents`` agents,
  ring ``--ring`` s, no wrap-up, the engine's tick), and
- played through sipp into the real Asterisk and engine: each call dials 12345 at its arrival
  time (``bench/sipp/carrier-trace-uac.xml``), the agents are registered SIP phones
  (``bench/sipp/agent-trace-uas.xml``: ring ``--ring`` s, answer, send audio, hang up after the
  call's handle time, which the caller's number carries: 17, the call's index, the handle time
  in 0.1 s), recording on;

and both sides' service level (answered within ``--target`` s of the played timeline), answer
rate, mean and p95 wait are printed side by side. Two things the played side cannot do, so both
sides leave them out: callers never abandon (sipp's caller cannot see an agent answer: the
centre answered at once), and every call has the default skill (the IVR picks the skill; the
trace's skills are folded into it on both sides). Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

from bench.load import Run, SipAgent, pct, shift_ports
from bench.sipp_phones import (
    TRACE_AGENT_PHONES,
    TRACE_CARRIER,
    LogLine,
    run_carrier,
    sipp_path,
)
from bench.support_asterisk import BenchSetupError, BenchSite, EngineProcess
from hotline.simulation.files import generate_trace, read_trace
from hotline.simulation.simulator import ERLANG_POLICY, AgentGroup, Scenario, TraceCall, simulate

CARRIER_PORT = 35180
CARRIER_MEDIA = 35400
START_RATE = 100.0  # calls sipp starts a second; each then waits for its own arrival time
LEAD_S = 5.0  # the first arrival this long after sipp starts


def cut(
    trace: tuple[TraceCall, ...], start_h: float, end_h: float, speed: float
) -> tuple[TraceCall, ...]:
    """The calls arriving in [start_h, end_h) hours, sped up, general skill, no abandoning."""
    t0, t1 = start_h * 3600, end_h * 3600
    return tuple(
        replace(
            c,
            arrival_at=(c.arrival_at - t0) / speed,
            handle_s=max(1.0, c.handle_s / speed),
            patience_s=None,
            skill="general",
            priority=0,
        )
        for c in trace
        if t0 <= c.arrival_at < t1
    )


def caller_number(index: int, call: TraceCall) -> str:
    """17, 5 digits of index, 5 of handle time in 0.1 s (agent-trace-uas.xml reads them)."""
    return f"17{index:05d}{min(99999, round(call.handle_s * 10)):05d}"


def injection(calls: tuple[TraceCall, ...]) -> str:
    """sipp's -inf file: "delay_ms;caller" per call, in the order sipp starts them."""
    lines = ["SEQUENTIAL"]
    for k, c in enumerate(calls):
        delay_ms = (c.arrival_at + LEAD_S - k / START_RATE) * 1000
        lines.append(f"{max(0, round(delay_ms))};{caller_number(k + 1, c)}")
    return "\n".join(lines) + "\n"


def played_figures(
    run: Run, carrier_log: list[LogLine], target_s: float
) -> dict[str, float | None]:
    up = {c.who: c.at for c in carrier_log if c.kind == "up"}
    answered: dict[str, float] = {}
    for p in run.phones.lines():
        if p.kind == "answer":
            answered.setdefault(p.caller, p.at)
    waits = [answered[c] - t for c, t in up.items() if c in answered]
    offered = len(up)
    return figures(offered, waits, target_s)


def figures(offered: int, waits: list[float], target_s: float) -> dict[str, float | None]:
    return {
        "offered": offered,
        "answered": len(waits),
        "answer rate": len(waits) / offered if offered else None,
        f"SL {target_s:g} s": sum(w <= target_s for w in waits) / offered if offered else None,
        "ASA s": sum(waits) / len(waits) if waits else None,
        "p95 wait s": pct(waits, 0.95),
    }


def simulated(
    calls: tuple[TraceCall, ...], agents: int, ring_s: float, target_s: float
) -> dict[str, float | None]:
    result = simulate(
        Scenario(
            agents=(AgentGroup(agents),),
            trace=calls,
            ring_s=ring_s,
            policy=ERLANG_POLICY,  # ring time-out 15 s, no wrap-up: as the engine here
            tick_interval_s=0.5,  # the engine's acd.tick_s
            duration_s=max(c.arrival_at for c in calls) + 1.0,
            target_s=target_s,
        )
    )
    waits = [r.answered_at - r.queued_at for r in result.calls if r.answered_at is not None]
    return figures(len(result.calls), waits, target_s)


async def play(run: Run, calls: tuple[TraceCall, ...], ring_s: float) -> list[LogLine]:
    inject = run.site.state_dir / "trace.csv"
    inject.write_text(injection(calls), encoding="utf-8")
    last = max(c.arrival_at for c in calls)
    longest = max(c.handle_s for c in calls)
    try:  # the phones' sipp is stopped whatever fails, their start too
        await run.start(int(ring_s * 1000))
        await run.staff(len(run.agents))
        carrier = await run_carrier(
            run.site.state_dir, run.target, port=CARRIER_PORT, media_port=CARRIER_MEDIA,
            calls=len(calls), rate=START_RATE, limit=len(calls) + 10, talk_ms=0,
            timeout_s=LEAD_S + last + longest + 600, scenario=TRACE_CARRIER, inject=inject,
            tag="carrier-trace",
        )  # fmt: skip
        print(
            f"played: sipp exit {carrier.returncode}, failed calls {carrier.failed}, SIP errors "
            f"{carrier.sip_errors() or 0}",
            flush=True,
        )
        return carrier.log
    finally:
        await run.close()


def show(sim: dict[str, float | None], played: dict[str, float | None]) -> None:
    print(f"{'':14s} {'simulated':>10s} {'played':>10s}")
    for key in sim:
        a, b = sim[key], played[key]

        def f(v: float | None) -> str:
            return "-" if v is None else (f"{v:.0f}" if isinstance(v, int) else f"{v:.3f}")

        print(f"{key:14s} {f(a):>10s} {f(b):>10s}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load_trace", description=__doc__)
    parser.add_argument("--trace", type=Path, help="trace CSV (default: a generated workday)")
    parser.add_argument("--calls-per-day", type=int, default=9000, help="generated day's calls")
    parser.add_argument("--aht", type=float, default=180.0, help="generated day's mean handle s")
    parser.add_argument("--from", dest="start_h", type=float, default=9.0, help="hour")
    parser.add_argument("--to", dest="end_h", type=float, default=10.0, help="hour")
    parser.add_argument("--speed", type=float, default=20.0, help="times faster than the trace")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--ring", type=float, default=1.0, help="s each phone rings")
    parser.add_argument("--target", type=float, default=3.0, help="SL target s (played time)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv if argv is not None else [])
    try:
        sipp_path()
    except RuntimeError as exc:
        raise SystemExit(f"bench.load_trace: {exc}") from None
    day = (
        read_trace(args.trace)
        if args.trace
        else generate_trace(args.calls_per_day, args.aht, {"general": 1.0}, seed=args.seed)
    )
    calls = cut(day, args.start_h, args.end_h, args.speed)
    if not calls:
        raise SystemExit("bench.load_trace: no call in that window of the trace")
    source = args.trace or f"generated workday, {args.calls_per_day} calls, AHT {args.aht:g} s"
    print(
        f"trace {source}"
        f", {args.start_h:g}-{args.end_h:g} h sped up {args.speed:g}x: {len(calls)} calls over "
        f"{max(c.arrival_at for c in calls):.0f} s, mean handle "
        f"{sum(c.handle_s for c in calls) / len(calls):.1f} s; {args.agents} agents, ring "
        f"{args.ring:g} s, no wrap-up, no abandoning; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    sim = simulated(calls, args.agents, args.ring, args.target)
    shift_ports()
    agents = [
        SipAgent(str(3000 + n), {"general": 1}, sip_password=f"bench-load-{3000 + n}-pw")
        for n in range(1, args.agents + 1)
    ]
    site = BenchSite(agents, {"ring_timeout_s": 15, "wrapup_s": 0}, instance="bench-load")
    try:
        site.start_asterisk()
        site.flush_redis()
        engine = EngineProcess(site)
        engine.start()
        run = Run(site, engine, agents, phones_scenario=TRACE_AGENT_PHONES)
        log = asyncio.run(play(run, calls, args.ring))
        show(sim, played_figures(run, log, args.target))
    except BenchSetupError as exc:
        raise SystemExit(f"bench.load_trace: {exc}") from None
    finally:
        site.close()


if __name__ == "__main__":
    main(sys.argv[1:])
