"""Issue 17 in the simulator: the seeded day generator, working hours for callbacks, and the
idle reserve keeping callbacks off the peak."""

from __future__ import annotations

import math

from hotline.acd.core import CENTRE_DEFAULTS, AcdPolicy
from hotline.simulation.daygen import generated_day, scenario
from hotline.simulation.simulator import simulate


def test_a_seed_is_always_the_same_day_and_seeds_differ() -> None:
    assert generated_day(7) == generated_day(7)
    shapes = [generated_day(seed) for seed in range(20)]
    assert len({(s.mix, s.groups) for s in shapes}) == 20
    for s in shapes:
        assert math.isclose(sum(share for _, share in s.mix), 1.0)
        assert 0.8 <= s.load <= 1.1 and s.agents >= 10
        skills = {name for g in s.groups for name, _ in g.skills}
        assert {name for name, _ in s.mix} <= skills  # every skill has agents


def test_callbacks_wait_for_the_working_hours() -> None:
    shape = generated_day(3, min_agents=10, max_agents=20)
    policy = AcdPolicy(wrapup_s=10.0, missed_callback_after_s=0.0)
    always = simulate(scenario(shape, policy=policy, hours=0.5, warmup_s=0.0, load=1.2))
    assert always.figures.called_back > 0
    # Working hours closed before the first call: no callback is ever placed.
    closed = simulate(scenario(shape, policy=policy, hours=0.5, warmup_s=0.0, load=1.2,
                               callback_hours_s=(0.0, 1.0), drain_limit_s=3600.0))  # fmt: skip
    assert closed.figures.called_back == 0
    assert all(r.attempts == 0 for r in closed.calls)
    # Opening later: every callback is placed after the opening.
    late = simulate(scenario(shape, policy=policy, hours=0.5, warmup_s=0.0, load=1.2,
                             callback_hours_s=(1500.0, 9000.0)))  # fmt: skip
    assert late.figures.called_back > 0
    assert all(r.called_back_at is None or r.called_back_at >= 1500.0 for r in late.calls)


def test_the_idle_reserve_keeps_callbacks_off_the_peak() -> None:
    shape = generated_day(5, min_agents=30, max_agents=40)
    plain = AcdPolicy(wrapup_s=10.0, missed_callback_after_s=0.0)
    reserved = AcdPolicy(**{**CENTRE_DEFAULTS, "wrapup_s": 10.0})
    end = 1800.0 + 3600.0

    def during_day(policy: AcdPolicy) -> int:
        result = simulate(scenario(shape, policy=policy, hours=1.0, load=1.1))
        return sum(
            1 for r in result.calls if r.called_back_at is not None and r.called_back_at < end
        )

    # Fewer callbacks while calls still arrive; they are placed after the peak instead.
    assert during_day(reserved) < during_day(plain)
