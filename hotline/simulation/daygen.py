"""Seeded multi-skill days of many shapes, to check a routing rule on days it was not tuned on.

``generated_day(seed)`` draws a ``DayShape`` (every draw from ``random.Random(f"daygen/{seed}")``,
so a seed is always the same day) and ``scenario(shape, router, policy)`` turns it into a
``Scenario`` for the simulator:

- 3 to 6 skills: a general one (``zh``, 30-70 % of the calls) and specialist subjects sharing
  the rest unevenly;
- agents: generalists (``zh`` level 1, some also a subject at level 2), specialists (their
  subject level 1, ``zh`` level 2 or 3) and a few dual specialists (two subjects level 1);
  the share of generalists is drawn (20-60 %), the specialists are dealt to the subjects in
  proportion to their calls;
- the plan: Erlang C's agents for 80 % within 15 s on the pooled load, plus 5-15 % for the
  split into skills; the day's calls then come at 0.8-1.1 times the planned load;
- talk exponential with mean 120-300 s, 10 s wrap-up, 2 s ring; patience exponential with
  mean 45-240 s (callers who hang up).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from hotline.acd.core import AcdPolicy
from hotline.acd.erlang import agents_for_service_level
from hotline.simulation.simulator import AgentGroup, Scenario

GENERAL = "zh"
SUBJECTS = ("social", "market", "yue", "en", "traffic")
WRAPUP_S, RING_S = 10.0, 2.0


@dataclass(frozen=True)
class DayShape:
    seed: int
    mix: tuple[tuple[str, float], ...]  # skill -> share of the calls
    groups: tuple[AgentGroup, ...]
    talk_s: float
    patience_s: float
    load: float  # the day's calls / the planned calls
    planned_rate_per_s: float

    @property
    def agents(self) -> int:
        return sum(g.count for g in self.groups)

    def describe(self) -> str:
        specialists = sum(g.count for g in self.groups if g.skills[0][0] != GENERAL)
        return (f"{len(self.mix)} skills, {self.agents} agents ({specialists} specialists), "
                f"talk {self.talk_s:.0f} s, patience {self.patience_s:.0f} s, "
                f"load {self.load:.2f}")  # fmt: skip


def generated_day(seed: int, *, min_agents: int = 40, max_agents: int = 160) -> DayShape:
    """One day's shape, the same for the same seed."""
    rng = random.Random(f"daygen/{seed}")
    subjects = rng.sample(SUBJECTS, rng.randint(2, 5))
    general = rng.uniform(0.3, 0.7)
    weights = [rng.gammavariate(1.5, 1.0) for _ in subjects]
    total = sum(weights)
    pairs = zip(subjects, weights, strict=True)
    mix = ((GENERAL, general), *((s, (1 - general) * w / total) for s, w in pairs))
    talk = rng.uniform(120.0, 300.0)
    handle = talk + WRAPUP_S
    target_agents = rng.randint(min_agents, max_agents)
    # The planned rate that Erlang C (80 % in 15 s, pooled) staffs with about target_agents.
    margin = rng.uniform(0.05, 0.15)
    rate = target_agents / (1 + margin) * 0.9 / handle
    while agents_for_service_level(rate, handle, 15.0, 0.8) * (1 + margin) > target_agents:
        rate *= 0.98
    planned = math.ceil(agents_for_service_level(rate, handle, 15.0, 0.8) * (1 + margin))
    generalists = rng.uniform(0.2, 0.6)
    n_general = max(1, round(planned * generalists))
    n_spec = planned - n_general
    groups: list[AgentGroup] = []
    with_second = round(n_general * rng.uniform(0.0, 0.5))
    groups.append(AgentGroup(n_general - with_second, ((GENERAL, 1),)))
    if with_second:
        second = subjects[rng.randrange(len(subjects))]
        groups.append(AgentGroup(with_second, ((GENERAL, 1), (second, 2))))
    dual = round(n_spec * rng.uniform(0.0, 0.25)) if len(subjects) > 1 else 0
    shares = [share for _, share in mix[1:]]
    counts = _deal(n_spec - dual, shares)
    for subject, count in zip(subjects, counts, strict=True):
        level = rng.choice((2, 2, 3))
        if count:
            groups.append(AgentGroup(count, ((subject, 1), (GENERAL, level))))
    if dual:
        a, b = rng.sample(subjects, 2)
        groups.append(AgentGroup(dual, ((a, 1), (b, 1), (GENERAL, 3))))
    return DayShape(
        seed=seed, mix=tuple(mix), groups=tuple(groups), talk_s=talk,
        patience_s=rng.uniform(45.0, 240.0), load=rng.uniform(0.8, 1.1),
        planned_rate_per_s=rate,
    )  # fmt: skip


def _deal(n: int, shares: list[float]) -> list[int]:
    """n split by the shares, largest remainder; every share gets at least one if n allows."""
    total = sum(shares)
    exact = [n * s / total for s in shares]
    counts = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: counts[i] - exact[i])[: n - sum(counts)]:
        counts[i] += 1
    for i, c in enumerate(counts):
        if c == 0 and n >= len(shares):
            donor = max(range(len(counts)), key=counts.__getitem__)
            counts[donor] -= 1
            counts[i] = 1
    return counts


def scenario(
    shape: DayShape,
    router: str = "ours",
    policy: AcdPolicy | None = None,
    *,
    hours: float = 2.0,
    warmup_s: float = 1800.0,
    load: float | None = None,
    **changes: object,
) -> Scenario:
    """The day as a simulator scenario (``load`` overrides the drawn one)."""
    factor = shape.load if load is None else load
    rate = shape.planned_rate_per_s * factor
    return Scenario(
        agents=shape.groups, arrival_rate_per_s={s: rate * share for s, share in shape.mix},
        mean_handle_s=shape.talk_s, mean_patience_s=shape.patience_s, ring_s=RING_S,
        router=router,
        policy=policy if policy is not None else AcdPolicy(ring_timeout_s=15.0, wrapup_s=WRAPUP_S),
        duration_s=warmup_s + hours * 3600.0, warmup_s=warmup_s, seed=shape.seed,
        **changes,  # type: ignore[arg-type]
    )  # fmt: skip
