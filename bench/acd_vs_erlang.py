"""The real ACD core in simulated working days, next to what Erlang C predicts.

Each load runs independent 8-hour days (10 for 20 agents, 3 for 200) (after a 30-minute warm-up, since the
centre starts empty and Erlang C is the steady state) and prints the mean with its standard
error (spread of the days / sqrt(days)). One 8-hour day of a 20-agent centre is only ~3,000
calls, and at 95 % occupancy a single congested hour moves the day's figures a lot, so the
error bar is part of the answer. The last column is the staffing Erlang C says reaches the
national target, 95 % answered within 15 s, and what the simulated core reaches with it.

The M/M/c rows match Erlang C's assumptions (Poisson arrivals, exponential 180 s handle time,
no wrap-up, no ring time, nobody hangs up): their sim/Erlang ratio should be 1 within the error
bar. The "real" row adds 10 s wrap-up, 4 s ring time and callers who give up (mean patience
120 s): the gap to Erlang C there is what the formula does not model.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace

from acd.core import AcdPolicy
from acd.erlang import agents_for_service_level, average_speed_of_answer, service_level
from acd.simulation import AgentGroup, Scenario, SimulationResult, simulate

HANDLE_S = 180.0
TARGET_S = 15.0
DAY_S = 8 * 3600.0
WARMUP_S = 1800.0


@dataclass(frozen=True)
class Load:
    name: str
    agents: int
    occupancy: float  # offered load / agents
    real: bool = False  # wrap-up, ring time and impatient callers on top of M/M/c
    days: int = 10  # independent replications; fewer for the big centre, which is slower

    @property
    def rate(self) -> float:
        return self.agents * self.occupancy / HANDLE_S


LOADS = (
    Load("M/M/c", 20, 0.80),
    Load("M/M/c", 20, 0.90),
    Load("M/M/c", 20, 0.95),
    Load("M/M/c", 200, 0.95, days=3),
    Load("real", 20, 0.90, real=True),
)


def scenario(load: Load, agents: int, seed: int) -> Scenario:
    sc = Scenario(
        agents=(AgentGroup(agents),),
        arrival_rate_per_s={"general": load.rate},
        mean_handle_s=HANDLE_S,
        duration_s=WARMUP_S + DAY_S,
        warmup_s=WARMUP_S,
        tick_interval_s=5.0,  # no wrap-up in M/M/c: ticks change nothing there, keep them cheap
        target_s=TARGET_S,
        seed=seed,
    )
    if load.real:
        policy = AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0)
        sc = replace(sc, policy=policy, ring_s=4.0, mean_patience_s=120.0, tick_interval_s=1.0)
    return sc


def days(load: Load, agents: int) -> list[SimulationResult]:
    return [simulate(scenario(load, agents, seed)) for seed in range(load.days)]


def mean_se(runs: list[SimulationResult], f: Callable[[SimulationResult], float], fmt: str) -> str:
    values = [f(r) for r in runs]
    se = statistics.stdev(values) / len(values) ** 0.5
    return f"{statistics.fmean(values):{fmt}}+-{se:{fmt}}"


def main() -> None:
    print(f"8 h days after {WARMUP_S / 60:.0f} min warm-up, mean handle {HANDLE_S:.0f} s, "
          f"target {TARGET_S:.0f} s; sim figures are mean+-standard error over the days")  # fmt: skip
    head = (
        f"{'model':6} {'N':>4} {'occ':>4} {'days':>4} {'calls/day':>9} | {'SL15 sim':>13} {'Erlang':>6} "
        f"{'ratio':>5} | {'ASA sim (s)':>13} {'Erlang':>6} {'ratio':>5} | {'aband.':>6} | "
        f"{'N for 95%/15s':>13} {'SL15 sim at N':>14}"
    )
    print(head)
    print("-" * len(head))
    for load in LOADS:
        runs = days(load, load.agents)
        sl = service_level(load.agents, load.rate, HANDLE_S, TARGET_S)
        asa = average_speed_of_answer(load.agents, load.rate, HANDLE_S)
        sim_sl = statistics.fmean(r.service_level for r in runs)
        sim_asa = statistics.fmean(r.asa_s for r in runs)
        abandoned = statistics.fmean(r.abandoned / r.offered for r in runs)
        need = agents_for_service_level(load.rate, HANDLE_S, TARGET_S, goal=0.95)
        at_need = statistics.fmean(r.service_level for r in days(load, need))
        print(
            f"{load.name:6} {load.agents:>4} {load.occupancy:>4.0%} {load.days:>4} "
            f"{statistics.fmean(r.offered for r in runs):>9.0f} | "
            f"{mean_se(runs, lambda r: r.service_level, '.3f'):>13} {sl:>6.3f} {sim_sl / sl:>5.2f} | "
            f"{mean_se(runs, lambda r: r.asa_s, '.1f'):>13} {asa:>6.1f} {sim_asa / asa:>5.2f} | "
            f"{abandoned:>6.1%} | {need:>13} {at_need:>14.3f}",
            flush=True,
        )
