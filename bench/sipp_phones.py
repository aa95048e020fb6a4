"""sipp as the carrier and as the agents' phones, and what their logs say.

The carrier (``sipp/carrier-uac.xml``) places calls into the citizen trunk; the agents' phones
(``sipp/agent-uas.xml``) are one sipp UAS for every agent. Each agent keeps its own PJSIP
endpoint and seat (``PJSIP/<id>``) and registers it from that UAS's port
(``sipp/agent-register.xml``, digest authentication with the agent's SIP password): Asterisk
sees registered endpoints, their device state (app_queue needs it) and their calls, and one
process on one port serves hundreds of agents, told apart by the Request-URI user. Both write
each step of a call to a log with the wall-clock time (``-trace_logs``); :func:`read_log`
reads them back and :func:`dispatch_latencies` measures "an agent free while a call waits ->
that agent's phone ringing" from what the phones saw, identically for our ACD and app_queue.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import re
import shutil
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SIPP_DIR = Path(__file__).resolve().parent / "sipp"
CARRIER = SIPP_DIR / "carrier-uac.xml"
TRACE_CARRIER = SIPP_DIR / "carrier-trace-uac.xml"
AGENT_PHONES = SIPP_DIR / "agent-uas.xml"
AGENT_REGISTER = SIPP_DIR / "agent-register.xml"
TRACE_AGENT_PHONES = SIPP_DIR / "agent-trace-uas.xml"
# "<date>\t<time>\t<epoch.us> <kind> <agent or caller> [<caller>]" (sipp's [timestamp])
_LINE = re.compile(r"^\S+\t\S+\t(?P<t>\d+\.\d+) (?P<kind>\w+) (?P<a>\d*) ?(?P<b>\d*)")


def sipp_path() -> str:
    sipp = shutil.which("sipp")
    if sipp is None:
        raise RuntimeError("sipp is not installed (Debian package sip-tester)")
    return sipp


@dataclass(frozen=True)
class LogLine:
    at: float  # epoch seconds
    kind: str  # carrier: up, end; phones: ring, answer, free
    who: str  # carrier: the caller; phones: the agent
    caller: str  # phones: the caller the centre put through (From user); carrier: = who


def read_log(path: Path) -> list[LogLine]:
    lines: list[LogLine] = []
    with contextlib.suppress(FileNotFoundError):
        for raw in path.read_text(errors="replace").splitlines():
            m = _LINE.match(raw)
            if m:
                who = m["a"]
                lines.append(LogLine(float(m["t"]), m["kind"], who, m["b"] or who))
    return lines


class AgentPhones:
    """The sipp UAS answering for every agent (runs until :meth:`stop`)."""

    def __init__(
        self,
        work_dir: Path,
        port: int,
        media_port: int,
        ring_ms: int,
        scenario: Path = AGENT_PHONES,
        local_ip: str = "127.0.0.1",
    ) -> None:
        self.work_dir, self.port, self.media_port = work_dir, port, media_port
        self.ring_ms, self.scenario = ring_ms, scenario
        # The address the phones listen and send media on: a cluster's nodes, in their own
        # network namespaces, reach the host on the edge's address, not on 127.0.0.1.
        self.local_ip = local_ip
        self.log_path = work_dir / f"phones-{port}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def register(
        self, target: str, agents: Sequence[tuple[str, str]], from_port: int | None = None
    ) -> None:
        """REGISTER every (agent, password) with this UAS as the contact: from its own port
        before :meth:`start` (Asterisk takes the source address as the contact), or from
        ``from_port`` while it runs (an edge that keeps the Contact as sent)."""
        for agent, password in agents:
            proc = await asyncio.create_subprocess_exec(
                sipp_path(), target, "-sf", str(AGENT_REGISTER), "-s", agent,
                "-au", agent, "-ap", password, "-key", "uas_port", str(self.port),
                "-i", self.local_ip, "-p", str(from_port or self.port),
                "-m", "1", "-timeout", "10s", "-timeout_error", "-nostdin",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                cwd=str(self.work_dir),
            )  # fmt: skip
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(
                    f"agent {agent}'s phone did not register (sipp exit {proc.returncode}):\n"
                    + out.decode(errors="replace")[-1500:]
                )

    async def start(self, target: str) -> None:
        self.log_path.unlink(missing_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            sipp_path(), target, "-sf", str(self.scenario),
            "-i", self.local_ip, "-p", str(self.port),
            "-mi", self.local_ip, "-mp", str(self.media_port),
            "-d", str(self.ring_ms), "-trace_logs", "-log_file", str(self.log_path),
            "-trace_err", "-error_file", str(self.log_path.with_suffix(".errors")),
            "-nostdin",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            cwd=str(self.work_dir),
        )  # fmt: skip
        await asyncio.sleep(0.5)
        if self.proc.returncode is not None:
            raise RuntimeError(f"the agents' sipp UAS exited at once ({self.proc.returncode})")

    def lines(self) -> list[LogLine]:
        return read_log(self.log_path)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@dataclass(frozen=True)
class CarrierRun:
    returncode: int
    output: str
    log: list[LogLine]

    @property
    def failed(self) -> int | None:
        found = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", self.output)
        return int(found[-1]) if found else None

    @property
    def successful(self) -> int | None:
        found = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", self.output)
        return int(found[-1]) if found else None

    def sip_errors(self) -> dict[str, int]:
        """Unexpected SIP responses by code (sipp's statistics of its error messages)."""
        errors: dict[str, int] = defaultdict(int)
        for code in re.findall(r"SIP/2\.0 ([3-6]\d\d)", self.output):
            errors[code] += 1
        return dict(errors)


async def run_carrier(
    work_dir: Path,
    target: str,
    *,
    port: int,
    media_port: int,
    calls: int,
    rate: float,
    limit: int,
    talk_ms: int,
    timeout_s: float,
    number: str = "12345",
    scenario: Path = CARRIER,
    inject: Path | None = None,
    tag: str = "carrier",
    local_ip: str = "127.0.0.1",
) -> CarrierRun:
    """sipp as the carrier: ``calls`` calls at ``rate`` a second, at most ``limit`` up."""
    log_path = work_dir / f"{tag}.log"
    log_path.unlink(missing_ok=True)
    extra = ["-inf", str(inject)] if inject is not None else []
    proc = await asyncio.create_subprocess_exec(
        sipp_path(), target, "-sf", str(scenario), "-s", number,
        "-i", local_ip, "-p", str(port), "-mi", local_ip, "-mp", str(media_port),
        "-m", str(calls), "-r", f"{rate:.3f}", "-l", str(limit), "-d", str(talk_ms),
        "-timeout", f"{int(timeout_s)}s", "-timeout_error", "-nostdin",
        "-trace_logs", "-log_file", str(log_path), "-trace_err",
        "-error_file", str(work_dir / f"{tag}-errors.log"), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=str(work_dir),
    )  # fmt: skip
    out, _ = await proc.communicate()
    errors = ""
    with contextlib.suppress(FileNotFoundError):
        errors = (work_dir / f"{tag}-errors.log").read_text(errors="replace")
    return CarrierRun(
        proc.returncode or 0, out.decode(errors="replace") + errors, read_log(log_path)
    )


def waiting_spans(
    carrier: Sequence[LogLine], phones: Sequence[LogLine]
) -> list[tuple[float, float]]:
    """When each call waited: from the carrier's call up (the centre answered and queued it)
    to the first ring at an agent's phone, or the call's end if no phone rang."""
    up: dict[str, float] = {}
    end: dict[str, float] = {}
    for line in carrier:
        if line.kind == "up":
            up.setdefault(line.who, line.at)
        elif line.kind == "end":
            end[line.who] = line.at
    first_ring: dict[str, float] = {}
    for line in phones:
        if line.kind == "ring":
            first_ring.setdefault(line.caller, line.at)
    spans = []
    for caller, start in up.items():
        stop = first_ring.get(caller, end.get(caller))
        if stop is not None and stop > start:
            spans.append((start, stop))
    return spans


def dispatch_latencies(
    carrier: Sequence[LogLine], phones: Sequence[LogLine], grace_s: float = 0.0
) -> list[float]:
    """Seconds from an agent's phone going free (the call's BYE) to that phone ringing again,
    counted only when a call was waiting at that moment (else the agent waits for a caller,
    not for the dispatcher). ``grace_s``: the agent's wrap-up, added to the free moment."""
    spans = waiting_spans(carrier, phones)
    starts = sorted(s for s, _ in spans)
    stops = sorted(e for _, e in spans)

    def waiting_at(t: float) -> int:
        return bisect.bisect_right(starts, t) - bisect.bisect_right(stops, t)

    by_agent: dict[str, list[LogLine]] = defaultdict(list)
    for line in phones:
        by_agent[line.who].append(line)
    latencies = []
    for lines in by_agent.values():
        lines.sort(key=lambda x: x.at)
        for prev, nxt in itertools.pairwise(lines):
            if prev.kind == "free" and nxt.kind == "ring":
                free_at = prev.at + grace_s
                if waiting_at(free_at) > 0:
                    latencies.append(max(0.0, nxt.at - free_at))
    return latencies
