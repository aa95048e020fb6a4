"""The real ACD core in simulated working days, next to what Erlang C predicts.

Each load runs independent days, each after a 30-minute warm-up (the centre starts empty;
Erlang C is the steady state), and prints the mean with its standard error (spread of the days
/ sqrt(days)) and the gap to Erlang C in percentage points. The issue's check is the 50-agent
rows at 85, 90 and 95 % occupancy: 24-hour days (~20,000 calls each), because at 95 %
occupancy a single congested hour moves a short day's figures by several points, so the error
bar is part of the answer. Each load runs up to ``days`` days but stops adding days after its
wall-clock budget (at least two, for an error bar); the ``days`` column says how many ran.
The last columns are the staffing Erlang C says reaches the national target (95 % answered
within 15 s) and what the simulated core reaches with it.

The M/M/c rows match Erlang C's assumptions (Poisson arrivals, exponential 180 s handle time,
no wrap-up, no ring time, nobody hangs up): their gap to Erlang C should be 0 within the error
bar. The "real" row adds 10 s wrap-up, 4 s ring time and callers who give up (mean patience
120 s): the gap to Erlang C there is what the formula does not model.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from hotline.acd.core import AcdPolicy
from hotline.acd.erlang import agents_for_service_level, average_speed_of_answer, service_level
from hotline.simulation.simulator import AgentGroup, Scenario, SimulationResult, simulate

HANDLE_S = 180.0
TARGET_S = 15.0
WARMUP_S = 1800.0


@dataclass(frozen=True)
class Load:
    name: str
    agents: int
    occupancy: float  # offered load / agents
    real: bool = False  # wrap-up, ring time and impatient callers on top of M/M/c
    days: int = 10  # independent replications at most
    day_s: float = 8 * 3600.0  # simulated length of one day, after the warm-up
    budget_s: float = 5.0  # wall-clock seconds for the set of days, checked after each day

    @property
    def rate(self) -> float:
        return self.agents * self.occupancy / HANDLE_S


DAY = 24 * 3600.0
LOADS = (
    Load("M/M/c", 50, 0.85, days=20, day_s=DAY, budget_s=25.0),
    Load("M/M/c", 50, 0.90, days=20, day_s=DAY, budget_s=25.0),
    Load("M/M/c", 50, 0.95, days=20, day_s=DAY, budget_s=40.0),
    Load("M/M/c", 200, 0.95, days=2),  # ~30,000 calls a day: slow, two days only
    Load("real", 20, 0.90, real=True),
)


def scenario(load: Load, agents: int, seed: int) -> Scenario:
    sc = Scenario(
        agents=(AgentGroup(agents),),
        arrival_rate_per_s={"general": load.rate},
        mean_handle_s=HANDLE_S,
        duration_s=WARMUP_S + load.day_s,
        warmup_s=WARMUP_S,
        tick_interval_s=30.0,  # no wrap-up in M/M/c: ticks change nothing there, keep them cheap
        target_s=TARGET_S,
        seed=seed,
    )
    if load.real:
        policy = AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0)
        sc = replace(sc, policy=policy, ring_s=4.0, mean_patience_s=120.0, tick_interval_s=1.0)
    return sc


def days(load: Load, agents: int) -> list[SimulationResult]:
    runs: list[SimulationResult] = []
    started = time.perf_counter()
    for seed in range(load.days):
        runs.append(simulate(scenario(load, agents, seed)))
        if len(runs) >= 2 and time.perf_counter() - started > load.budget_s:
            break
    return runs


def mean_se(runs: list[SimulationResult], f: Callable[[SimulationResult], float], fmt: str) -> str:
    values = [f(r) for r in runs]
    se = statistics.stdev(values) / len(values) ** 0.5
    return f"{statistics.fmean(values):{fmt}}+-{se:{fmt}}"


def table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)), flush=True)
        if n == 0:
            print("-" * (sum(widths) + 2 * len(widths) - 2))


def main() -> None:
    print(f"days (8 h; 24 h for 50 agents) after {WARMUP_S / 60:.0f} min warm-up, "
          f"mean handle {HANDLE_S:.0f} s, target {TARGET_S:.0f} s; "
          f"sim: mean+-standard error over the days")  # fmt: skip
    rows = [
        ["model", "N", "occ", "days", "calls/day", "SL15 sim", "Erlang", "gap (pts)",
         "ASA sim (s)", "Erlang", "ratio", "abandoned", "N for 95%/15s", "SL15 sim at N"]
    ]  # fmt: skip
    for load in LOADS:
        runs = days(load, load.agents)
        sl = service_level(load.agents, load.rate, HANDLE_S, TARGET_S)
        asa = average_speed_of_answer(load.agents, load.rate, HANDLE_S)
        need = agents_for_service_level(load.rate, HANDLE_S, TARGET_S, goal=0.95)
        rows.append([
            load.name, str(load.agents), f"{load.occupancy:.0%}", str(len(runs)),
            f"{statistics.fmean(r.offered for r in runs):.0f}",
            mean_se(runs, lambda r: r.service_level, ".3f"), f"{sl:.3f}",
            f"{(statistics.fmean(r.service_level for r in runs) - sl) * 100:+.2f}",
            mean_se(runs, lambda r: r.asa_s, ".1f"), f"{asa:.1f}",
            f"{statistics.fmean(r.asa_s for r in runs) / asa:.2f}",
            f"{statistics.fmean(r.abandoned / r.offered for r in runs):.1%}",
            str(need), f"{statistics.fmean(r.service_level for r in days(load, need)):.3f}",
        ])  # fmt: skip
    table(rows)
