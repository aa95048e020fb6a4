"""Missed-call callback on by default without costing inbound (issue 17, must show: benchmark).

Several seeded multi-skill days of different shapes (``hotline/simulation/daygen.py``: skill mixes,
specialist/generalist ratios, talk times, patience; none of them the day any rule was tuned
on), each played at the planned load and 10 % above it, with callers who hang up. The same
calls (common random numbers) go through:

- ``fifo-per-queue``: app_queue's model (hotline/simulation/appqueue.py), no callbacks;
- ``old defaults``: our ACD as shipped before issue 17: every 15-second rule off, a freed agent
  takes the oldest call it may take whatever its level there;
- ``callback, no reserve``: the old routing with missed-call callback on, placed whenever an
  agent is free and no live call it may take waits (what issue 17 found costs inbound);
- ``second round``: the new defaults as of the second round of issue 17, without
  ``target_first`` and ``callback_reserve_live`` (for the paired comparison);
- ``new defaults``: ``CENTRE_DEFAULTS`` (hotline/acd/core/policy.py, the ``[acd]`` defaults): missed
  calls called back only while ``callback_min_idle_agents`` agents of the skill stay ready
  (never more than the centre's live calls: ``callback_reserve_live``), widening,
  announcements, the first-skill routing rule with ``target_first`` (a call already past 15 s
  gives way to one of another skill the agent has that can still make it) and
  ``borrow_spare_first`` (a call its own agents cannot take goes to the lent agent whose first
  skill keeps the most ready).

Callbacks may be placed from the first call until two hours after the last arrival (working
hours; ``CallbacksPaused`` after that); a missed call not reached by then counts as not called
back. Printed per day and load: answered-or-called-back % (answered + called back / offered)
and the 15-second service level (answered within 15 s / offered); then the means. Figures are
printed, never judged. ``MULTISKILL_DAYS=107-112`` plays other days (the rules were tuned on
201-204 and 301-312; 101-112 are the days the README reports); ``MULTISKILL_RUNS`` picks
columns by label, comma-separated (e.g. ``fifo-per-queue,new defaults``), to keep a run short;
``MULTISKILL_DRAWS=5`` plays each day-load with five arrival draws (seeds day, 1000 + day, ...;
every column on the same draws) and prints their means, as one draw of a day-load moves by
up to a point of 15-s SL with a perturbation of a few calls.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import replace

from hotline.acd.core import CENTRE_DEFAULTS, AcdPolicy
from hotline.simulation.daygen import WRAPUP_S, DayShape, generated_day, scenario
from hotline.simulation.simulator import SimulationResult, simulate


def _days(spec: str) -> tuple[int, ...]:
    first, _, last = spec.partition("-")
    return tuple(range(int(first), int(last or first) + 1))


SEEDS = _days(os.environ.get("MULTISKILL_DAYS", "101-106"))
LOADS = (1.0, 1.1)
HOURS, WARMUP_S, AFTER_S = 3.0, 1800.0, 7200.0
BASE = {"ring_timeout_s": 15.0, "wrapup_s": WRAPUP_S}
OLD = AcdPolicy(**BASE, keep_first_skill=False)  # type: ignore[arg-type]
CALLBACK_NO_RESERVE = AcdPolicy(**BASE, keep_first_skill=False, missed_callback_after_s=0.0)  # type: ignore[arg-type]
RUNS: tuple[tuple[str, str, AcdPolicy], ...] = (
    ("fifo-per-queue", "fifo-per-queue", OLD),
    ("old defaults", "ours", OLD),
    ("callback, no reserve", "ours", CALLBACK_NO_RESERVE),
    ("second round", "ours", AcdPolicy(**{**CENTRE_DEFAULTS, **BASE, "target_first": False,
                                          "callback_reserve_live": False})),
    ("new defaults", "ours", AcdPolicy(**{**CENTRE_DEFAULTS, **BASE})),
)  # fmt: skip
_PICK = os.environ.get("MULTISKILL_RUNS")
if _PICK:
    _WANTED = {label.strip() for label in _PICK.split(",")}
    RUNS = tuple(r for r in RUNS if r[0] in _WANTED)


DRAWS = int(os.environ.get("MULTISKILL_DRAWS", "1"))  # arrival draws per day-load


def run(
    shape: DayShape, router: str, policy: AcdPolicy, load: float, draw: int = 0
) -> SimulationResult:
    """One day-load; ``draw`` k > 0 plays other arrivals (seed 1000 k + day) of the same shape."""
    end = WARMUP_S + HOURS * 3600.0
    hours = (0.0, end + AFTER_S)
    sc = scenario(shape, router, policy, hours=HOURS, warmup_s=WARMUP_S, load=load,
                  callback_hours_s=hours, drain_limit_s=AFTER_S)  # fmt: skip
    return simulate(replace(sc, seed=shape.seed + 1000 * draw) if draw else sc)


def main() -> None:
    print(f"days {SEEDS} x loads {LOADS} of plan; {HOURS:.0f} h after {WARMUP_S / 60:.0f} min "
          f"warm-up; callbacks until {AFTER_S / 3600:.0f} h after the last arrival")  # fmt: skip
    print("cells: answered-or-called-back % / 15-s service level %"
          + (f", each the mean of {DRAWS} arrival draws" if DRAWS > 1 else ""))  # fmt: skip
    labels = [label for label, _, _ in RUNS]
    served: dict[str, list[float]] = {label: [] for label in labels}
    level: dict[str, list[float]] = {label: [] for label in labels}
    head = ("day", *labels)
    rows: list[tuple[str, ...]] = [head]
    for seed in SEEDS:
        shape = generated_day(seed)
        print(f"day {seed}: {shape.describe()}", flush=True)
        for load in LOADS:
            cells = [f"{seed} x{load:.1f}"]
            for label, router, policy in RUNS:
                figs = [run(shape, router, policy, load, k).figures for k in range(DRAWS)]
                served[label].append(statistics.fmean(f.served_rate or 0.0 for f in figs))
                level[label].append(statistics.fmean(f.service_level_15s or 0.0 for f in figs))
                cells.append(f"{100 * served[label][-1]:.1f} / {100 * level[label][-1]:.1f}")
            rows.append(tuple(cells))
    rows.append(("mean", *(f"{100 * statistics.fmean(served[k]):.1f} / "
                           f"{100 * statistics.fmean(level[k]):.1f}" for k in labels)))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, row in enumerate(rows):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0 or n == len(rows) - 2:
            print("-" * (sum(widths) + 2 * len(widths) - 2))
    fifo = level.get("fifo-per-queue")
    for label in ("second round", "new defaults"):
        if fifo is None or label not in level or len(fifo) < 2:
            continue
        diffs = [a - b for a, b in zip(level[label], fifo, strict=True)]
        se = statistics.stdev(diffs) / len(diffs) ** 0.5
        print(f"{label} - fifo-per-queue: SL 15 s {100 * statistics.fmean(diffs):+.2f} "
              f"+- {100 * se:.2f} points (paired), worst {100 * min(diffs):+.2f}; days below "
              f"fifo: {sum(d < 0 for d in diffs)}/{len(diffs)}; answered-or-called-back "
              f">= 95 %: {sum(x >= 0.95 for x in served[label])}/{len(diffs)}")  # fmt: skip
