"""A real carrier's load on real SIP phones, ramped: ``python -m bench load [--steps 50,100]``.

sipp is the carrier (``bench/sipp/carrier-uac.xml``: calls into the citizen trunk with G.711
A-law audio; each caller stays ``--hold-call`` s from the centre's answer, then hangs up) and
sipp is every agent's phone (``bench/sipp/agent-uas.xml``: each agent's PJSIP endpoint is
registered from the one sipp UAS, which rings ``--ring`` s, answers and sends audio until the
call ends). No Local channels, no dialplan test phones. Each step holds about N calls up at
once with ``--agents-share`` of N agents ready (2/3: of 300 callers, 200 talking and 100
waiting, since callers who wait talk less), recording on, wrap-up 0; then the same step again
through app_queue (the carrier dials 12399: ``Queue(bench-load)`` with the same SIP phones as
members, recorded the same way) on the same Asterisk in the same run.

Per step and side it prints: calls placed / answered / abandoned / failed (sipp), SIP error
responses, dispatch latency p50/p95/p99 (an agent's phone free, the caller's BYE, while a call
waits -> that agent's phone ringing, from the phones' own log), queue -> ring p50/p95, AMI event
lag p99 (the engine's own figure), CPU % of one core for the engine, Asterisk and both sipps,
resident memory, recordings complete and non-silent, call records written against calls placed,
channels left behind, the load average; then the ratio to app_queue and, at the end, the first
limit the ramp reached. Figures only: nothing here passes or fails.

``--topology one,two`` runs the same ramp against a cluster instead (bench/load_cluster.py):
the agents' phones registered at the edge (Kamailio), the carrier through its dispatcher, one
engine over the nodes; per step node a alone ("one"), then nodes a and b ("two"); at the end
the concurrency each reached while meeting the goals, and the ratio two/one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bench.support_asterisk as support
from bench import load_cluster
from bench.load_cluster import TOPOLOGIES, ClusterNodes
from bench.sipp_phones import (
    AGENT_PHONES,
    AgentPhones,
    CarrierRun,
    LogLine,
    dispatch_latencies,
    run_carrier,
    sipp_path,
)
from bench.support_asterisk import AmiDriver, BenchAgent, BenchSetupError, BenchSite, EngineProcess
from hotline.base.settings import EDGE_ENDPOINT
from hotline.calls.store import CallRecordStore
from hotline.recordings.store import RecordingStore

# The bench-load instance's ports: the bench ports moved up by PORT_SHIFT (the plain bench
# ports meet test slot 1's, and a load run lasts many minutes beside other checkouts' tests).
PORT_SHIFT = 9000
CARRIER_PORT = 35160
CARRIER_MEDIA = 35200
PHONES_PORT = 35170
PHONES_MEDIA = 35300
TICK = os.sysconf("SC_CLK_TCK")
# The edge grants a registration an hour at most (kamailio.cfg, max_expires): a cluster run
# registers the phones again when the last registration is this old.
REREGISTER_S = 1800.0
NUMBERS = {"ours": "12345", "app_queue": "12399", "app_queue-norec": "12398"}


@dataclass(frozen=True)
class SipAgent(BenchAgent):
    """An agent whose seat is its own PJSIP endpoint, registered by the phones' sipp (in a
    cluster: registered at the edge, reached from every node through it)."""

    at_edge: bool = False

    @property
    def seat(self) -> str:
        return f"PJSIP/{self.agent_id}" + (f"@{EDGE_ENDPOINT}" if self.at_edge else "")


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return total


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine: every process, ours and the neighbours'."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.0f}"


def loud(path: Path, threshold: float = 50.0) -> bool:
    """Not silence: the root mean square of up to 4 s from the middle of a 16-bit WAV."""
    try:
        with wave.open(str(path)) as w:
            n = w.getnframes()
            w.setpos(max(0, n // 2 - 16000))
            frames = w.readframes(32000)
    except (OSError, wave.Error, EOFError):
        return False
    import array

    samples = array.array("h", frames[: len(frames) // 2 * 2])
    if not samples:
        return False
    return math.sqrt(sum(s * s for s in samples) / len(samples)) > threshold


@dataclass
class StepFigures:
    side: str
    concurrent: int
    agents: int
    topology: str = ""  # a cluster run's: one, two
    placed: int = 0
    answered: int = 0
    failed: int | None = None
    sip_errors: dict[str, int] = field(default_factory=dict)
    dispatch: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    ami_lag_p99: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core
    rss: dict[str, float] = field(default_factory=dict)
    records: int | None = None
    doubled_records: int | None = None
    recordings: int = 0
    recordings_loud: int = 0
    left_behind: list[str] = field(default_factory=list)
    load_avg: str = ""
    rung_busy: int = 0
    wall_s: float = 0.0
    by_node: dict[str, int] = field(default_factory=dict)  # call records per node (a cluster)

    def cpu_per_call(self) -> str:
        """CPU seconds per call placed of each part: steadier than % while the box is shared."""
        if not self.placed:
            return "-"
        return " ".join(
            f"{k} {v * self.wall_s / 100 / self.placed:.3f}"
            for k, v in self.cpu.items()
            if k != "machine"
        )

    @property
    def label(self) -> str:
        if not self.topology:
            return self.side
        return f"{self.topology} node" + ("s" if TOPOLOGIES[self.topology] > 1 else "")

    def row(self) -> str:
        d = self.dispatch
        cpu = " ".join(f"{k} {v:.0f}" for k, v in self.cpu.items())
        rec = "-" if self.records is None else f"{self.records}/{self.placed}"
        errs = ",".join(f"{k}x{v}" for k, v in sorted(self.sip_errors.items())) or "0"
        failed = "?" if self.failed is None else str(self.failed)
        doubled = "-" if self.doubled_records is None else str(self.doubled_records)
        nodes = " ".join(f"{k} {v}" for k, v in sorted(self.by_node.items()))
        return (
            f"{self.label:9s} {self.concurrent:4d} up {self.agents:3d} agents | placed "
            f"{self.placed:4d} answered {self.answered:4d} abandoned "
            f"{self.placed - self.answered:3d} failed {failed}"
            f" SIP errors {errs} | dispatch ms p50/95/99 {ms(pct(d, 0.5))}/{ms(pct(d, 0.95))}/"
            f"{ms(pct(d, 0.99))} (n={len(d)}) | queue->ring p50/95 {ms(pct(self.waits, 0.5))}/"
            f"{ms(pct(self.waits, 0.95))} ms | AMI lag p99 {ms(self.ami_lag_p99)} ms | CPU % "
            f"{cpu} | RSS MB "
            + " ".join(f"{k} {v:.0f}" for k, v in self.rss.items())
            + f" | records {rec} doubled {doubled}"
            + (f" (by node: {nodes})" if nodes else "")
            + f" | recordings {self.recordings} non-silent {self.recordings_loud} | left behind "
            f"{len(self.left_behind)} | rung while busy {self.rung_busy} | load {self.load_avg}"
            f" | CPU s per call {self.cpu_per_call()}"
        )


class Run:
    """One bench-load instance: Asterisk (or a cluster's edge and nodes), the engine, the
    agents' phones, an AMI driver."""

    def __init__(
        self,
        site: BenchSite,
        engine: EngineProcess,
        agents: list[SipAgent],
        phones_scenario: Path = AGENT_PHONES,
        cluster: ClusterNodes | None = None,
    ) -> None:
        self.site, self.engine, self.agents, self.cluster = site, engine, agents, cluster
        cfg = site.cfg
        self.target = f"127.0.0.1:{cfg.asterisk.sip_port}" if cluster is None else cluster.target
        self.local_ip = "127.0.0.1" if cluster is None else cluster.local_ip
        self.phones = AgentPhones(
            site.state_dir, PHONES_PORT, PHONES_MEDIA, 0, phones_scenario, self.local_ip
        )
        self.driver = AmiDriver(cfg)
        self.ready: set[str] = set()
        self.rec_dir = cfg.recordings.dir or cfg.audio_dir / "recordings"
        self.credentials = [(a.agent_id, a.sip_password) for a in agents]
        self.registered_at = 0.0

    async def start(self, ring_ms: int) -> None:
        self.phones.ring_ms = ring_ms
        await self.phones.register(self.target, self.credentials)
        self.registered_at = time.monotonic()
        await self.phones.start(self.target)
        if self.cluster is None:  # a cluster's nodes get theirs when they start (use)
            await self.driver.connect()

    async def close(self) -> None:
        self.driver.close()
        if self.cluster is not None:
            self.cluster.close_drivers()
        await self.phones.stop()

    async def prepare(self, topology: str) -> None:
        """A cluster: the nodes of this topology up, the others stopped; the phones'
        registrations at the edge renewed before they run out."""
        if self.cluster is None or not topology:
            return
        await self.cluster.use(topology, self.engine)
        if time.monotonic() - self.registered_at > REREGISTER_S:
            await self.phones.register(self.target, self.credentials, from_port=PHONES_PORT + 1)
            self.registered_at = time.monotonic()

    def parts(self) -> dict[str, list[int]]:
        """The processes whose CPU and memory each step reports, by name."""
        engine = [self.engine.proc.pid] if self.engine.proc is not None else []
        phones = [self.phones.proc.pid] if self.phones.proc is not None else []
        if self.cluster is not None:
            servers = self.cluster.parts()
        else:
            pid = self.site.asterisk.pid() if self.site.asterisk is not None else None
            servers = {"Asterisk": [pid] if pid is not None else []}
        return {"engine": engine, **servers, "phones": phones}

    async def channels(self) -> list[str]:
        if self.cluster is not None:
            return await self.cluster.channels()
        return [str(c.get("Channel", "")) for c in await self.driver.channels()]

    async def staff(self, n: int) -> None:
        want = {a.agent_id for a in self.agents[:n]}
        for agent_id in sorted(self.ready - want):
            await self._log_out(agent_id)
        for agent_id in sorted(want - self.ready):
            await asyncio.to_thread(self.engine.agent, agent_id, "login")
            await asyncio.to_thread(self.engine.agent, agent_id, "ready")
        self.ready = want

    async def _log_out(self, agent_id: str, wait_s: float = 120.0) -> None:
        """An engine behind its events after a step may still ring an agent: log it out once
        that call is over (the core refuses a log-out while ringing or on a call)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                await asyncio.to_thread(self.engine.agent, agent_id, "logout")
                return
            except BenchSetupError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1.0)

    async def left_behind(self, wait_s: float = 20.0) -> list[str]:
        deadline = time.monotonic() + wait_s
        names: list[str] = []
        while time.monotonic() < deadline:
            names = await self.channels()
            if not names:
                break
            await asyncio.sleep(1.0)
        return names

    async def step(
        self,
        side: str,
        concurrent: int,
        share: float,
        hold_call_s: float,
        arrivals_s: float,
        topology: str = "",
    ) -> StepFigures:
        n_agents = max(1, round(concurrent * share))
        fig = StepFigures(side, concurrent, n_agents, topology)
        queue_members: list[str] = []
        if side == "ours":
            await self.staff(n_agents)
        else:
            await self.staff(0)
            for a in self.agents[:n_agents]:
                await self.driver.send(
                    {"Action": "QueueAdd", "Queue": "bench-load", "Interface": a.seat,
                     "MemberName": a.agent_id},
                    as_list=False,
                )  # fmt: skip
                queue_members.append(a.seat)
        rate = concurrent / hold_call_s
        calls = max(concurrent, round(rate * arrivals_s))
        fig.placed = calls
        parts = self.parts()
        started = datetime.now(UTC)
        phone_lines0 = len(self.phones.lines())
        t0 = time.monotonic()
        cpu0 = {name: cpu_s(pids) for name, pids in parts.items()}
        busy0 = machine_busy()
        children0 = os.times()
        try:
            carrier: CarrierRun = await run_carrier(
                self.site.state_dir, self.target, port=CARRIER_PORT, media_port=CARRIER_MEDIA,
                calls=calls, rate=rate, limit=concurrent + 20, talk_ms=int(hold_call_s * 1000),
                timeout_s=arrivals_s + hold_call_s + 120,
                number=NUMBERS[side],
                tag=f"carrier-{side}{topology}-{concurrent}",
                local_ip=self.local_ip,
            )  # fmt: skip
        finally:
            for interface in queue_members:
                with contextlib.suppress(RuntimeError, TimeoutError):
                    await self.driver.send(
                        {"Action": "QueueRemove", "Queue": "bench-load", "Interface": interface},
                        as_list=False,
                    )
        wall = time.monotonic() - t0
        fig.wall_s = wall
        children1 = os.times()
        busy1 = machine_busy()
        fig.cpu = {
            **{name: 100 * (cpu_s(pids) - cpu0[name]) / wall for name, pids in parts.items()},
            "carrier": 100
            * (
                children1.children_user + children1.children_system
                - children0.children_user - children0.children_system
            )
            / wall,
            "machine": 100 * (os.cpu_count() or 1)
            * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
        }  # fmt: skip
        fig.rss = {name: rss_mb(pids) for name, pids in parts.items() if name != "phones"}
        fig.load_avg = " ".join(f"{x:.1f}" for x in os.getloadavg())
        fig.failed = carrier.failed
        fig.sip_errors = carrier.sip_errors()
        phones = self.phones.lines()[phone_lines0:]
        callers_answered = {p.caller for p in phones if p.kind == "answer"}
        fig.answered = len(callers_answered)
        fig.dispatch = dispatch_latencies(carrier.log, phones)
        first_ring: dict[str, float] = {}
        for p in phones:
            if p.kind == "ring":
                first_ring.setdefault(p.caller, p.at)
        up = {c.who: c.at for c in carrier.log if c.kind == "up"}
        fig.waits = [first_ring[c] - t for c, t in up.items() if c in first_ring]
        fig.rung_busy = rung_while_busy(phones)
        if side == "ours":
            status = await asyncio.to_thread(self.engine.status)
            fig.ami_lag_p99 = (status.get("load") or {}).get("ami_lag_p99_s")
            # The last records and recording rows: an engine behind its events writes them
            # late; wait while they still come (at most 90 s), then count.
            seen, still, deadline = (-1, -1), 0, time.monotonic() + 90
            while time.monotonic() < deadline and still < 3:
                await asyncio.sleep(2.0)
                await asyncio.to_thread(self._our_records, fig, started)
                now = (fig.records or 0, fig.recordings)
                still = still + 1 if now == seen else 0
                seen = now
                if fig.records == fig.placed and fig.recordings == fig.answered:
                    break
        else:
            await asyncio.sleep(3.0)
            if side == "app_queue":
                await asyncio.to_thread(self._appqueue_recordings, fig, started)
        fig.left_behind = await self.left_behind()
        return fig

    def _our_records(self, fig: StepFigures, started: datetime) -> None:
        cfg = self.site.cfg
        store = CallRecordStore(cfg.database_url, cfg.spool_dir)
        recs = RecordingStore(cfg.database_url)
        try:
            records = [
                r
                for r in store.list_between(started - timedelta(seconds=5), datetime.now(UTC))
                if r.caller.startswith("139")
            ]
            fig.records = len(records)
            fig.recordings = fig.recordings_loud = 0
            fig.doubled_records = len(records) - len({r.caller for r in records})
            if self.cluster is not None:
                fig.by_node = dict(Counter(r.node for r in records))
            for r in records:
                if r.answered_at is None:
                    continue
                for x in recs.for_call(r.unique_id):
                    if x.ended_at is not None and x.size_bytes:
                        fig.recordings += 1
                        fig.recordings_loud += loud(self.rec_dir / x.path)
                        break
        finally:
            store.dispose()
            recs.dispose()

    def _appqueue_recordings(self, fig: StepFigures, started: datetime) -> None:
        folder = self.rec_dir / "bench-load"
        since = started.timestamp() - 5
        for path in folder.glob("*.wav") if folder.is_dir() else []:
            if path.stat().st_mtime >= since and path.stat().st_size > 44:
                fig.recordings += 1
                fig.recordings_loud += loud(path)


def rung_while_busy(phones: list[LogLine]) -> int:
    """Rings at a phone already talking (answered and not yet free): an agent given two calls."""
    talking: set[str] = set()
    count = 0
    for line in sorted(phones, key=lambda x: x.at):
        if line.kind == "ring" and line.who in talking:
            count += 1
        elif line.kind == "answer":
            talking.add(line.who)
        elif line.kind == "free":
            talking.discard(line.who)
    return count


def limits(fig: StepFigures) -> list[str]:
    """What this step broke of the issue's goal (figures the ramp names as the limit): the
    goals missed, then the parts near a core's worth of CPU."""
    broken = missed_goals(fig)
    for part, value in fig.cpu.items():
        if part not in ("phones", "carrier", "machine") and value > 90:
            broken.append(f"{part} at {value:.0f} % of a core")
    # The machine is shared: its total (the neighbours' work too) is context, not our limit.
    ours = sum(v for k, v in fig.cpu.items() if k != "machine")
    if ours > 90 * (os.cpu_count() or 1):
        broken.append(
            f"the parts here at {ours:.0f} % of the machine's {100 * (os.cpu_count() or 1)} %"
        )
    return broken


GOALS = (
    "0 failed calls, every call recorded, every answered call with a sound recording, "
    "dispatch p95 <= 100 ms, AMI lag p99 <= 250 ms, no channel left, no agent rung twice"
)


def missed_goals(fig: StepFigures, dispatch: bool = True) -> list[str]:
    """The goals (GOALS) a step must meet for its concurrency to count as reached.
    ``dispatch=False``: all but dispatch p95, the figure a shared machine's other load moves
    most (a phone's ring waits for a core like everything else)."""
    broken = []
    if fig.failed:
        broken.append(f"{fig.failed} failed calls")
    if fig.sip_errors:
        broken.append(f"SIP errors {fig.sip_errors}")
    p95 = pct(fig.dispatch, 0.95)
    if dispatch and p95 is not None and p95 > 0.1:
        broken.append(f"dispatch p95 {1000 * p95:.0f} ms > 100 ms")
    if fig.ami_lag_p99 is not None and fig.ami_lag_p99 > 0.25:
        broken.append(f"AMI lag p99 {1000 * fig.ami_lag_p99:.0f} ms > 250 ms")
    if fig.records is not None and fig.records != fig.placed:
        broken.append(f"{fig.records} call records for {fig.placed} calls")
    if fig.recordings_loud < fig.answered and not fig.side.endswith("norec"):
        broken.append(
            f"{fig.answered - fig.recordings_loud} answered calls without a sound recording"
        )
    if fig.left_behind:
        broken.append(f"{len(fig.left_behind)} channels left behind ({fig.left_behind[:3]})")
    if fig.rung_busy:
        broken.append(f"{fig.rung_busy} rings at a busy phone")
    return broken


def ratio_line(ours: StepFigures, theirs: StepFigures) -> str:
    def r(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"

    cpu_ours = ours.cpu["engine"] + ours.cpu["Asterisk"]
    dispatch = r(pct(ours.dispatch, 0.95), pct(theirs.dispatch, 0.95))
    return (
        f"          ratio ours/app_queue: dispatch p95 {dispatch}"
        f", queue->ring p95 {r(pct(ours.waits, 0.95), pct(theirs.waits, 0.95))}, CPU (engine+"
        f"Asterisk / Asterisk) {r(cpu_ours, theirs.cpu['Asterisk'])}, answered "
        f"{r(ours.answered, theirs.answered)}"
    )


def shift_ports(by: int = PORT_SHIFT) -> None:
    if support.PORTS["sip"] < 30000:
        for name in support.PORTS:
            support.PORTS[name] += by
        support.REDIS_URL = f"redis://127.0.0.1:{support.PORTS['redis']}/0"
        # 300 calls up with 200 agents are 500 channels, two RTP ports each: 1000 ports (the
        # other benches' span) ran out at 300 (SIP 488). Above every test slot's ports (a
        # cluster's nodes have theirs in their own network namespaces).
        support.PORTS["rtp"] = 40000
        support.RTP_SPAN = 6000


def reached_at(results: list[tuple[int, bool]]) -> int | None:
    """The highest step of the ramp whose goals were met, every step before it too."""
    reached = None
    for concurrent, met in results:
        if not met:
            break
        reached = concurrent
    return reached


def reached_lines(results: dict[str, list[tuple[int, bool]]], goals: str = GOALS) -> list[str]:
    """The concurrency each variant reached at the goals; with two topologies, their ratio."""
    top = {label: max(c for c, _ in r) for label, r in results.items() if r}
    reached = {label: reached_at(r) for label, r in results.items()}

    def said(label: str) -> str:
        value = reached[label]
        if value is None:
            return f"{label} none (the first step missed them)"
        if value == top[label]:
            return f"{label} >= {value} (every step met them)"
        return f"{label} {value}"

    lines = [
        f"concurrency reached at the goals ({goals}): "
        + ", ".join(said(label) for label in results)
    ]
    one, two = (StepFigures("ours", 0, 0, t).label for t in ("one", "two"))
    if one in reached and two in reached:
        r1, r2 = reached[one], reached[two]
        if r1 is None or r2 is None:
            ratio = "- (a topology missed the goals at the first step: add a lower one)"
        elif r1 == top[one] and r2 == top[two]:
            ratio = "- (neither reached a limit within these steps: add higher ones)"
        else:
            bound = ">= " if r2 == top[two] else "<= " if r1 == top[one] else ""
            ratio = f"{bound}{r2 / r1:.2f} ({two} {r2} / {one} {r1})"
        lines.append(f"ratio {two} / {one} at the goals: {ratio}")
    return lines


async def run_steps(run: Run, args: argparse.Namespace, steps: list[int]) -> None:
    # Each step runs every variant: our ACD and app_queue on one Asterisk (sides), or our ACD
    # on each topology of a cluster.
    if run.cluster is not None:
        variants = [("ours", t) for t in args.topologies]
    else:
        variants = [(s.strip(), "") for s in args.sides.split(",") if s.strip()]
    first_limit: dict[str, str] = {}
    results: dict[str, list[tuple[int, bool]]] = {}
    results_but_dispatch: dict[str, list[tuple[int, bool]]] = {}
    try:  # the phones' sipp is stopped whatever fails, their start too
        await run.start(int(args.ring * 1000))
        for concurrent in steps:
            figs = {}
            for side, topology in variants:
                await run.prepare(topology)
                fig = await run.step(
                    side, concurrent, args.agents_share, args.hold_call, args.arrivals, topology
                )
                figs[fig.label] = fig
                print(fig.row(), flush=True)
                results.setdefault(fig.label, []).append((concurrent, not missed_goals(fig)))
                results_but_dispatch.setdefault(fig.label, []).append(
                    (concurrent, not missed_goals(fig, dispatch=False))
                )
                broken = limits(fig)
                if broken:
                    print(f"          {fig.label} limits: {'; '.join(broken)}", flush=True)
                    if side == "ours":
                        first_limit.setdefault(fig.label, f"{concurrent} up: {'; '.join(broken)}")
                await asyncio.sleep(3.0)
            if "app_queue" in figs and "ours" in figs:
                print(ratio_line(figs["ours"], figs["app_queue"]), flush=True)
    finally:
        await run.close()
    for side, topology in variants:
        label = StepFigures(side, 0, 0, topology).label
        if side == "ours":
            limit = first_limit.get(label, "none within these steps")
            print(f"first limit reached ({label}): {limit}", flush=True)
    for line in reached_lines(results):
        print(line, flush=True)
    if results_but_dispatch != results:
        goals = GOALS.replace("dispatch p95 <= 100 ms, ", "") + "; dispatch p95 left out"
        for line in reached_lines(results_but_dispatch, goals):
            print(line, flush=True)


def run(args: argparse.Namespace, steps: list[int]) -> None:
    topologies = args.topologies
    shift_ports(PORT_SHIFT + (load_cluster.PORT_SHIFT if topologies else 0))
    n_agents = max(1, round(max(steps) * args.agents_share))
    agents = [
        SipAgent(
            str(3000 + n), {"general": 1}, sip_password=f"bench-load-{3000 + n}-pw",
            at_edge=bool(topologies),
        )
        for n in range(1, n_agents + 1)
    ]  # fmt: skip
    acd = {"ring_timeout_s": 15, "wrapup_s": 0}
    if topologies:
        ports = support.PORTS
        site = BenchSite(
            agents, acd, instance=f"bench-load{load_cluster.SLOT}",
            extra_toml=load_cluster.cluster_toml(ports["ami"], ports["sip"]),
        )  # fmt: skip
    else:
        site = BenchSite(agents, acd, instance="bench-load")
    cluster = ClusterNodes(site.cfg) if topologies else None
    try:  # the set-up runs its own event loops (Redis/MQTT checks): outside ours
        if cluster is None:
            site.start_asterisk()
        else:
            site.start_services()
            cluster.start()
        site.flush_redis()
        engine = EngineProcess(site)
        engine.start()
        where = (
            "Asterisk" if cluster is None
            else f"the edge (Kamailio, {cluster.target}), topologies {', '.join(topologies)}"
        )  # fmt: skip
        print(
            f"sipp carrier -> citizen trunk via {where}; agents: {n_agents} registered SIP "
            f"phones (one sipp UAS), ring {args.ring:.1f} s; each caller up {args.hold_call:.0f}"
            f" s, {args.arrivals:.0f} s of arrivals per step; agents = {args.agents_share:.2f}"
            f" x calls up; recording on, wrap-up 0; {os.cpu_count()} CPUs, load "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; CPU in % of one core",
            flush=True,
        )
        asyncio.run(run_steps(Run(site, engine, agents, cluster=cluster), args, steps))
    finally:
        try:
            site.close()  # the engine first, then the bench's Redis and Mosquitto
        finally:
            if cluster is not None:
                cluster.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load", description=__doc__)
    parser.add_argument("--steps", default="50,100,200,300", help="calls up at once per step")
    parser.add_argument("--hold-call", type=float, default=30.0, help="s each caller stays up")
    parser.add_argument("--arrivals", type=float, default=60.0, help="s of arrivals per step")
    parser.add_argument("--agents-share", type=float, default=2 / 3, help="agents per call up")
    parser.add_argument("--ring", type=float, default=1.0, help="s each phone rings")
    parser.add_argument(
        "--sides",
        default="ours,app_queue",
        help="of ours, app_queue, app_queue-norec (app_queue without recording: its cost)",
    )
    parser.add_argument(
        "--topology",
        default="",
        help="one,two: our ACD on a cluster behind the edge instead, node a alone then nodes a "
        "and b, per step (the sides are then ignored: app_queue is one server's)",
    )
    args = parser.parse_args(argv if argv is not None else [])
    args.topologies = [t.strip() for t in args.topology.split(",") if t.strip()]
    if set(args.topologies) - set(TOPOLOGIES):
        raise SystemExit(f"bench.load: --topology takes {', '.join(TOPOLOGIES)}")
    try:
        sipp_path()
    except RuntimeError as exc:
        raise SystemExit(f"bench.load: {exc}") from None
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    unknown = {s.strip() for s in args.sides.split(",")} - set(NUMBERS)
    if unknown:
        raise SystemExit(f"bench.load: no such side {', '.join(sorted(unknown))}")
    try:
        run(args, steps)
    except BenchSetupError as exc:
        raise SystemExit(f"bench.load: {exc}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
