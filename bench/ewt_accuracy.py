"""How right the wait estimate is: ours against app_queue's formula (issue 3, must show 6).

The day of bench/sim_day.py (60,000 calls, five skills, multi-skilled agents at different
levels, 4-8 hour shifts) runs through the ACD core twice: staffed as planned (Erlang C + 5 %,
few calls wait) and short-staffed (Erlang C - 10 %, queues form at the peaks). Each call's
estimate is the one the core gave when it joined the queue (``CallEstimate``); its actual wait
is from queueing to the agent answering, ring time included. Only answered calls have an
actual wait (an abandoned call's is censored), so the errors are over the answered calls;
calls the core gave no estimate (nobody staffed for the skill) are counted apart.

app_queue's estimate is computed on the same calls, as app_queue computes it: per skill
(queue), a running average of the waits of answered calls, ``(3 * old + new) / 4``, starting
at 0 and updated when a call is answered; a call's estimate is the average when it joins.
(That is what app_queue announces as the hold time; it takes no account of the position.)
Ties in time: the answer is counted before the arrival.

Printed: median, 90th percentile and mean of the absolute error, and the mean signed error
(estimate - actual: > 0 over-estimates), over all answered calls and over those that queued
(waited at least ``WAITED_S``: the 2 s ring plus a second). Our estimate is the wait for an
agent to be free and leaves the ring out, so the row "ours + the 2 s ring" shows what adding
it would give; app_queue's average learns the ring with the rest. Last, app_queue's own
estimate on its own routing (the planned day through the app_queue model).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench.sim_day import RING_S, simulate_day
from hotline.acd.ewt import app_queue_holdtime
from hotline.simulation.simulator import CallRecord, SimulationResult

WAITED_S = RING_S + 1.0  # queued for at least a second: more than the ring


def app_queue_estimates(calls: Sequence[CallRecord]) -> dict[str, float]:
    """call_id -> app_queue's hold-time average of its queue when it joined."""
    happenings: list[tuple[float, int, CallRecord]] = []
    for c in calls:
        happenings.append((c.queued_at, 1, c))
        if c.answered_at is not None:
            happenings.append((c.answered_at, 0, c))
    happenings.sort(key=lambda h: (h[0], h[1], h[2].call_id))
    average: dict[str, float] = {}
    out: dict[str, float] = {}
    for at, kind, c in happenings:
        if kind == 0:
            average[c.skill] = app_queue_holdtime(average.get(c.skill, 0.0), at - c.queued_at)
        else:
            out[c.call_id] = average.get(c.skill, 0.0)
    return out


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    return values[max(0, math.ceil(q * len(values)) - 1)] if values else math.nan


def row(label: str, pairs: Sequence[tuple[float, float]]) -> list[str]:
    """(estimate, actual) pairs -> the printed figures."""
    errors = sorted(abs(e - a) for e, a in pairs)
    bias = statistics.fmean(e - a for e, a in pairs) if pairs else math.nan
    mean = statistics.fmean(errors) if errors else math.nan
    return [label, str(len(pairs)), f"{quantile(errors, 0.5):.1f}", f"{quantile(errors, 0.9):.1f}",
            f"{mean:.1f}", f"{bias:+.1f}"]  # fmt: skip


def table(ours: SimulationResult) -> list[list[str]]:
    """The error rows of one day through the core, with app_queue's formula on its calls."""
    answered = [c for c in ours.calls if c.answered_at is not None and c.estimate_s is not None]
    theirs = app_queue_estimates(ours.calls)
    rows = []
    for subset, keep in (("all answered", 0.0), (f"waited >= {WAITED_S:g} s", WAITED_S)):
        chosen = [c for c in answered if c.wait_s(ours.end_at) >= keep]
        pairs = [(c.estimate_s or 0.0, c.wait_s(ours.end_at)) for c in chosen]
        rows.append(row(f"ours, {subset}", pairs))
        if not keep:
            ring = [(e + RING_S, a) for e, a in pairs]
            rows.append(row(f"(ours + the {RING_S:g} s ring), {subset}", ring))
        pairs = [(theirs[c.call_id], c.wait_s(ours.end_at)) for c in chosen]
        rows.append(row(f"app_queue formula, {subset}", pairs))
    return rows


def show(rows: list[list[str]]) -> None:
    head = ["estimate, calls", "calls", "median |err| s", "p90 |err| s", "mean |err| s", "bias s"]
    rows = [head, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))  # fmt: skip
        if n == 0:
            print("-" * (sum(widths) + 2 * len(widths) - 2))


def main() -> None:
    for label, margin in (("staffed as planned (Erlang C + 5 %)", 0.05),
                          ("short-staffed (Erlang C - 10 %)", -0.10)):  # fmt: skip
        ours = simulate_day("ours", margin=margin)
        none = sum(1 for c in ours.calls if c.answered_at is not None and c.estimate_s is None)
        print(f"{label}: {ours.offered} calls, {ours.answered} answered through the ACD core, "
              f"SL 15 s {ours.figures.service_level_15s or 0.0:.1%} "
              f"({none} answered calls given no estimate: nobody staffed)")  # fmt: skip
        show(table(ours))
        print()
    base = simulate_day("fifo-per-queue")
    own = [(c.estimate_s, c.wait_s(base.end_at)) for c in base.calls
           if c.answered_at is not None and c.estimate_s is not None]  # fmt: skip
    print(
        "app_queue's own estimate on its own routing (the planned day through the app_queue model):"
    )
    show([row("app_queue, all answered", own)])
