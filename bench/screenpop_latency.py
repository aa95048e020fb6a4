"""Screen-pop latency: from the ACD's offer of a call to the pop painted in the agent's browser.

Issue 6, must show. The engine runs as in production (a subprocess, the managed Asterisk, the
bench instance); one agent is logged in to the web desktop in Debian's Chromium (headless,
driven by Playwright) and is ready. Calls enter through ``bench-hotline`` (the 12345 path
without the IVR) one at a time; every other caller has an open ticket, so half the pops carry
a caller history. The agent's phone (``Local/9001@bench-agent``) rings 0.5 s, answers, talks
0.5 s and hangs up; wrap-up is 0, so the agent is ready for the next call.

Measured, per call, on the machine's one clock:
- offer -> painted: the ACD's OfferCall decision (``offered_at``, engine side) to the browser
  having painted the pop (a task queued from the frame callback after the pop was filled in);
- offer -> sent: the engine's share (repeat check in the ticket store, speech text read from
  the caller's channel, building the pop);
- sent -> painted: websocket, JSON, DOM and paint.
Goal: p95 of offer -> painted <= 300 ms. Figures are printed, never judged.
Run: ``python -m bench screenpop_latency`` or ``python bench/screenpop_latency.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support_asterisk import (
    REPO,
    AmiDriver,
    BenchAgent,
    BenchSetupError,
    BenchSite,
    EngineProcess,
)

AGENT = BenchAgent("9001", {"general": 1})
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-agent-9001-pw"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def add_agent_user(site: BenchSite) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(site.config_path), "user", "add",
         "benchagent", "--role", "agent", "--agent", AGENT.agent_id, "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchSetupError(f"hotline user add: {done.stderr[-1000:]}")


async def run(site: BenchSite, calls: int) -> dict[str, Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        raise BenchSetupError(
            f"playwright is not installed (pip install -e .[test]): {exc}"
        ) from None
    engine = EngineProcess(site)
    await asyncio.to_thread(engine.start)
    await asyncio.to_thread(add_agent_user, site)
    for n in range(0, calls, 2):  # every other caller has an open ticket
        await asyncio.to_thread(
            engine.api, "POST", "/api/v1/tickets",
            {"category": "help", "subject_code": "99", "description": f"earlier request {n}",
             "caller_number": f"139{n:08d}", "actor": "bench"},
        )  # fmt: skip
    driver = AmiDriver(site.cfg)
    await driver.connect()
    channels: dict[str, str] = {}  # caller number -> its channel in the hotline path
    driver.on_user_event = lambda name, ev: (
        channels.__setitem__(str(ev.get("Caller")), str(ev.get("Channel")))
        if name == "HotlineArrived" else None
    )  # fmt: skip
    await driver.send({"Action": "Setvar", "Variable": "BENCH_RING", "Value": "0.5"})
    async with async_playwright() as p:
        try:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except Exception as exc:
            raise BenchSetupError(f"Chromium at {CHROMIUM} did not start: {exc}") from None
        # The page's CSP forbids eval, which Playwright's wait_for_function polls with; the
        # bench measures latency, the security tests check the CSP.
        page = await (await browser.new_context(bypass_csp=True)).new_page()
        await page.goto(engine.base + "/desk/login")
        await page.fill("#name", "benchagent")
        await page.fill("#password", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_url("**/desk/agent")
        await page.wait_for_selector('#conn[data-state="up"]')
        await page.click("#seat-login")
        await page.wait_for_selector('#agent-state[data-state="not_ready"]')
        await page.click("#ready")
        await page.wait_for_selector('#agent-state[data-state="ready"]')
        for n in range(calls):
            await page.wait_for_selector('#agent-state[data-state="ready"]', timeout=30_000)
            await driver.send(
                {
                    "Action": "Originate",
                    "Channel": "Local/s@bench-hotline",
                    "Context": "bench-caller",
                    "Exten": "s",
                    "Priority": "1",
                    "CallerID": f'"bench" <139{n:08d}>',
                    "Variable": ["BENCH_SKILL=general", f"BENCH_CALL=pop{n}", "BENCH_HANDLE=0.5"],
                    "Async": "true",
                },
                timeout=30,
            )
            await page.wait_for_function(
                f"window.hotlineLog.filter(e => e.kind === 'pop_painted').length > {n}",
                timeout=30_000,
            )
            await page.wait_for_selector('#agent-state[data-state="on_call"]', timeout=30_000)
        await page.wait_for_selector('#agent-state[data-state="ready"]', timeout=30_000)
        log = await page.evaluate(
            "window.hotlineLog.filter(e => e.kind === 'pop_painted' || e.kind === 'pop')"
        )
        await browser.close()
    driver.close()
    painted = [e for e in log if e["kind"] == "pop_painted"]
    received = {e["data"]["call_id"]: e["at"] for e in log if e["kind"] == "pop"}
    total = [e["at"] - e["data"]["offered_at"] * 1000 for e in painted]
    server = [(e["data"]["sent_at"] - e["data"]["offered_at"]) * 1000 for e in painted]
    client = [e["at"] - e["data"]["sent_at"] * 1000 for e in painted]
    wire = [received[e["data"]["call_id"]] - e["data"]["sent_at"] * 1000 for e in painted]

    def figures(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
        }

    return {
        "calls": len(painted),
        "offer_to_painted": figures(total),
        "offer_to_sent (engine)": figures(server),
        "sent_to_received (websocket)": figures(wire),
        "sent_to_painted (browser)": figures(client),
        "goal": "p95 offer_to_painted <= 300 ms",
        "measured_at": time.strftime("%Y-%m-%d %H:%M"),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="calls to place one by one (60)")
    args = parser.parse_args(list(argv or []))
    site = BenchSite([AGENT], {"wrapup_s": 0, "ring_timeout_s": 15, "tick_s": 0.5})
    try:
        print(f"starting the managed Asterisk (instance bench, AMI {site.cfg.ami.port}) ...")
        site.start_asterisk()
        result = asyncio.run(run(site, args.calls))
    except BenchSetupError as exc:
        raise SystemExit(f"screenpop_latency: a real part did not work: {exc}") from None
    finally:
        site.close()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
