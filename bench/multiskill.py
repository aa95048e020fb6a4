"""Multi-skill routing at a few hundred agents: our ACD against app_queue's (issue 3, must show 5).

The same calls (Poisson per skill, the same seeds: common random numbers) and the same staff
are played through each router in the simulator:

- ``ours``: the ACD core, default thresholds: a call goes to the best skill level among the
  ready agents, and an agent in several skills takes the call first in service order
  (priority, then time waited) among those it may take;
- ``ours, gated``: the same core with ``initial_max_level = 1`` and ``widen_after_s = 10``:
  a call goes only to level-1 agents of its skill until it has waited (or is estimated to
  wait) 10 s, so the specialists are kept for their subject;
- ``fifo-per-queue`` / ``rrmemory``: the app_queue model of ``hotline/simulation/appqueue.py``: one
  FIFO
  queue per skill, members in every queue of their skills, levels ignored, strategy
  leastrecent or rrmemory, the race between queues decided by each caller's re-check phase.

The centre: 250 agents, five skills (the call mix and the agent profiles of bench/sim_day.py,
specialists level 1 in their subject and level 2 in 普通话), about 92 % occupancy, talk
exponential mean 150 s, 10 s wrap-up, 2 s ring, patience exponential mean 120 s; 4 hours after
a 30-minute warm-up, ``SEEDS`` replications. Printed per router: service level (answered within
15 s / offered), answer rate, ASA, the longest wait and the worst skill's service level (means
over the seeds), then ours minus app_queue's in percentage points, paired by seed, with
its standard error.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from bench.sim_day import MIX, PROFILES, RING_S, TALK_S, WRAPUP_S
from hotline.acd.core import AcdPolicy
from hotline.simulation.simulator import AgentGroup, Scenario, SimulationResult, simulate

AGENTS = 250
OCCUPANCY = 0.92
HOURS, WARMUP_S, PATIENCE_S = 4, 1800.0, 120.0
SEEDS = (1, 2, 3)
PLAIN = AcdPolicy(ring_timeout_s=15.0, wrapup_s=WRAPUP_S)
GATED = AcdPolicy(ring_timeout_s=15.0, wrapup_s=WRAPUP_S, initial_max_level=1, widen_after_s=10.0)
RUNS: tuple[tuple[str, str, AcdPolicy], ...] = (
    ("ours", "ours", PLAIN),
    ("ours, gated", "ours", GATED),
    ("fifo-per-queue", "fifo-per-queue", PLAIN),
    ("rrmemory", "fifo-per-queue-rrmemory", PLAIN),
)


def groups() -> tuple[AgentGroup, ...]:
    """AGENTS agents dealt to the profiles by largest remainder."""
    total = sum(p.share for p in PROFILES)
    exact = [AGENTS * p.share / total for p in PROFILES]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: AGENTS - sum(counts)]:
        counts[i] += 1
    return tuple(AgentGroup(n, p.skills) for n, p in zip(counts, PROFILES, strict=True))


def scenario(router: str, policy: AcdPolicy, seed: int) -> Scenario:
    rate = OCCUPANCY * AGENTS / (TALK_S + WRAPUP_S)
    return Scenario(
        agents=groups(), arrival_rate_per_s={s: rate * share for s, share in MIX.items()},
        mean_handle_s=TALK_S, mean_patience_s=PATIENCE_S, ring_s=RING_S, router=router,
        policy=policy, duration_s=WARMUP_S + HOURS * 3600.0, warmup_s=WARMUP_S, seed=seed,
    )  # fmt: skip


def worst_skill(r: SimulationResult) -> tuple[str, float]:
    name, f = min(r.by_skill.items(), key=lambda kv: kv[1].service_level_15s or 0.0)
    return name, f.service_level_15s or 0.0


def main() -> None:
    print(f"{AGENTS} agents, skills {', '.join(MIX)}, {OCCUPANCY:.0%} occupancy, {HOURS} h after "
          f"{WARMUP_S / 60:.0f} min warm-up, seeds {SEEDS}")  # fmt: skip
    results: dict[str, list[SimulationResult]] = {}
    for label, router, policy in RUNS:
        results[label] = [simulate(scenario(router, policy, seed)) for seed in SEEDS]
    head = ("router", "calls", "SL 15 s", "answered", "ASA s", "max wait s", "worst skill SL")
    rows = [head]
    for label, runs in results.items():

        def mean(
            f: Callable[[SimulationResult], float], runs: list[SimulationResult] = runs
        ) -> float:
            return statistics.fmean(f(r) for r in runs)

        worst = [worst_skill(r) for r in runs]
        names = "/".join(sorted({w[0] for w in worst}))
        rows.append((
            label, f"{mean(lambda r: r.figures.offered):.0f}",
            f"{mean(lambda r: r.figures.service_level_15s or 0.0):.2%}",
            f"{mean(lambda r: r.figures.answer_rate or 0.0):.2%}",
            f"{mean(lambda r: r.figures.asa_s or 0.0):.1f}",
            f"{mean(lambda r: r.figures.max_wait_s or 0.0):.0f}",
            f"{statistics.fmean(w[1] for w in worst):.1%} ({names})",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, row in enumerate(rows):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("-" * (sum(widths) + 2 * len(widths) - 2))
    for ours in ("ours", "ours, gated"):
        for base in ("fifo-per-queue", "rrmemory"):
            for what, key in (("SL 15 s", "service_level_15s"), ("answer rate", "answer_rate")):
                diffs = [
                    (getattr(a.figures, key) or 0.0) - (getattr(b.figures, key) or 0.0)
                    for a, b in zip(results[ours], results[base], strict=True)
                ]
                se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
                gap = 100 * statistics.fmean(diffs)
                print(f"{ours} - {base}: {what} {gap:+.2f} +- {100 * se:.2f} points")
