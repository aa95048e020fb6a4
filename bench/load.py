"""A real carrier's load, ramped: ``python -m bench load [--steps 25,50,100] [--talk 20]``.

sipp is the carrier (``bench/sipp/carrier-uac.xml``: calls into the citizen trunk with G.711
A-law audio, talking ``--talk`` s once answered, then hanging up); agents are on the dialplan's
test phones (``Local/<id>@test-phone``: ring 1 s, answer); recording is on (every answered call
is recorded, as in production). Each step holds about N calls up at once for ``--hold`` s and
prints: calls placed / answered / abandoned / failed (sipp's failed calls), call records written,
recordings finished, queue -> answer p50/p95 (with the phone's 1 s ring), AMI event lag p99
(the engine's own figure, hotline/asterisk/ami/watch.py), CPU % of one core used by the engine and
by
Asterisk, and their resident memory. Figures only: nothing here passes or fails.

The machine is shared: keep the steps at 150 concurrent calls or below unless it is yours.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench.support_asterisk as support
from bench.support_asterisk import BenchAgent, BenchSetupError, BenchSite, EngineProcess
from hotline.base.db import CallRecordStore
from hotline.recordings.store import RecordingStore

SCENARIO = Path(__file__).resolve().parent / "sipp" / "carrier-uac.xml"
# The bench instance's ports (bench/support_asterisk.py) moved up by PORT_SHIFT: the plain
# bench ports meet test slot 1's, and a load run lasts minutes beside other checkouts' tests.
PORT_SHIFT = 9000
SIPP_PORT = 35160
MEDIA_PORT = 35200
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class PhoneAgent(BenchAgent):
    """An agent on the test phone: rings 1 s, answers, stays until the caller hangs up."""

    @property
    def seat(self) -> str:
        return f"Local/{self.agent_id}@test-phone"


def cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.2f} {unit}"


async def run_step(
    site: BenchSite, engine: EngineProcess, concurrent: int, talk_s: float, hold_s: float
) -> None:
    cfg = site.cfg
    rate = concurrent / (talk_s + 3.0)  # about `concurrent` up at once (greeting + ring ~3 s)
    calls = max(concurrent, round(rate * hold_s))
    started = datetime.now(UTC)
    ast_pid = site.asterisk.pid() if site.asterisk is not None else None
    eng_pid = engine.proc.pid if engine.proc is not None else None
    cpu0 = (cpu_s(eng_pid), cpu_s(ast_pid), time.monotonic())
    sipp = shutil.which("sipp")
    assert sipp is not None
    proc = await asyncio.create_subprocess_exec(
        sipp, f"127.0.0.1:{cfg.asterisk.sip_port}",
        "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(SIPP_PORT),
        "-mi", "127.0.0.1", "-mp", str(MEDIA_PORT),
        "-m", str(calls), "-r", f"{rate:.2f}", "-l", str(concurrent + 10),
        "-d", str(int(talk_s * 1000)), "-timeout", f"{int(hold_s + talk_s + 120)}s",
        "-nostdin",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=str(site.state_dir),
    )  # fmt: skip
    out, _ = await proc.communicate()
    cpu1 = (cpu_s(eng_pid), cpu_s(ast_pid), time.monotonic())
    text = out.decode(errors="replace")
    load = engine.status().get("load") or {}
    failed = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", text)
    await asyncio.sleep(3.0)  # the last records and recordings
    store = CallRecordStore(cfg.database_url, cfg.spool_dir)
    recs = RecordingStore(cfg.database_url)
    try:
        records = [
            r
            for r in store.list_between(started - timedelta(seconds=5), datetime.now(UTC))
            if r.caller.startswith("139")
        ]
        answered = [r for r in records if r.answered_at is not None]
        waits = [
            (r.answered_at - r.queued_at).total_seconds()
            for r in answered
            if r.queued_at is not None and r.answered_at is not None
        ]
        finished = 0
        for r in answered:
            if any(x.ended_at is not None and x.size_bytes for x in recs.for_call(r.unique_id)):
                finished += 1
    finally:
        store.dispose()
        recs.dispose()
    wall = cpu1[2] - cpu0[2]
    print(
        f"{concurrent:4d} up | placed {calls:4d} answered {len(answered):4d} "
        f"abandoned {len(records) - len(answered):3d} failed {failed[-1] if failed else '?':>3} | "
        f"records {len(records):4d} recordings finished {finished:4d} | "
        f"queue->answer p50 {fmt(pct(waits, 0.5))} p95 {fmt(pct(waits, 0.95))} | "
        f"AMI lag p99 {fmt(load.get('ami_lag_p99_s'))} | "
        f"CPU engine {100 * (cpu1[0] - cpu0[0]) / wall:4.1f}% "
        f"Asterisk {100 * (cpu1[1] - cpu0[1]) / wall:4.1f}% | "
        f"RSS engine {rss_mb(eng_pid):.0f} MB Asterisk {rss_mb(ast_pid):.0f} MB",
        flush=True,
    )
    if waits:
        print(f"      mean queue->answer {statistics.mean(waits):.2f} s", flush=True)


def shift_ports() -> None:
    if support.PORTS["sip"] < 30000:
        for name in support.PORTS:
            support.PORTS[name] += PORT_SHIFT
        support.REDIS_URL = f"redis://127.0.0.1:{support.PORTS['redis']}/0"


def run(steps: list[int], talk_s: float, hold_s: float) -> None:
    shift_ports()
    agents = [PhoneAgent(str(3000 + n), {"general": 1}) for n in range(1, max(steps) + 21)]
    site = BenchSite(agents, {"ring_timeout_s": 15, "wrapup_s": 1})
    try:  # the set-up runs its own event loops (Redis/MQTT checks): outside ours
        site.start_asterisk()
        site.flush_redis()
        engine = EngineProcess(site)
        engine.start()
        for a in agents:
            engine.agent(a.agent_id, "login")
            engine.agent(a.agent_id, "ready")
        print(
            f"sipp carrier -> citizen trunk, {len(agents)} agents on test phones, talk {talk_s:.0f}"
            f" s, each step ~{hold_s:.0f} s of arrivals; recording on",
            flush=True,
        )
        asyncio.run(run_steps(site, engine, steps, talk_s, hold_s))
    finally:
        site.close()


async def run_steps(
    site: BenchSite, engine: EngineProcess, steps: list[int], talk_s: float, hold_s: float
) -> None:
    for concurrent in steps:
        await run_step(site, engine, concurrent, talk_s, hold_s)
        await asyncio.sleep(talk_s / 2)  # let the step's calls drain


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__)
    parser.add_argument("--steps", default="25,50,100", help="concurrent calls per step")
    parser.add_argument("--talk", type=float, default=20.0, help="talk time in s")
    parser.add_argument("--hold", type=float, default=40.0, help="s of arrivals per step")
    args = parser.parse_args(argv if argv is not None else [])
    if shutil.which("sipp") is None:
        raise SystemExit("bench.load: sipp is not installed (Debian package sip-tester)")
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    if max(steps) > 150:
        print("warning: more than 150 concurrent calls on a shared machine", file=sys.stderr)
    try:
        run(steps, args.talk, args.hold)
    except BenchSetupError as exc:
        raise SystemExit(f"bench.load: {exc}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
