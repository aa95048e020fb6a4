"""Erlang C against textbook figures and against a naive factorial implementation."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.acd.erlang import (
    agents_for_service_level,
    average_speed_of_answer,
    erlang_b,
    erlang_c,
    service_level,
)


def naive_erlang_c(n: int, a: Fraction) -> Fraction:
    """The textbook formula, term by term, in exact rational arithmetic (no rounding at all)."""
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def naive_erlang_b(n: int, a: Fraction) -> Fraction:
    return (a**n / math.factorial(n)) / sum(a**k / math.factorial(k) for k in range(n + 1))


def test_textbook_example_10_erlangs_14_agents() -> None:
    # The usual worked example (100 calls in 30 min, 180 s handle time: A = 10 Erlangs):
    # 14 agents -> P(wait) 17.4 %, 88.8 % answered within 20 s, ASA 7.8 s, and 14 is the
    # staffing for 80 % in 20 s (13 agents give 79.6 %... just short).
    rate = 100 / 1800
    assert erlang_c(14, 10.0) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(14, rate, 180, 20) == pytest.approx(0.8884, abs=5e-5)
    assert average_speed_of_answer(14, rate, 180) == pytest.approx(7.836, abs=5e-4)
    assert agents_for_service_level(rate, 180, 20, goal=0.80) == 14


def test_hand_computed_two_agents() -> None:
    # N = 2, A = 1: sum_{k<2} = 1 + 1 = 2; top = (1/2) * 2 / (2 - 1) = 1; C = 1 / 3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3, rel=1e-12)
    # ASA = C * h / (N - A) = (1/3) * 60 / 1 = 20 s with h = 60 s.
    assert average_speed_of_answer(2, 1 / 60, 60) == pytest.approx(20.0, rel=1e-12)
    # SL(t) = 1 - C * exp(-(N - A) t / h) = 1 - exp(-1) / 3 at t = h.
    assert service_level(2, 1 / 60, 60, 60) == pytest.approx(1 - math.exp(-1) / 3, rel=1e-12)


@pytest.mark.parametrize(
    ("n", "a"),
    [(1, "0.5"), (12, "10"), (20, "16"), (20, "18"), (20, "19"), (30, "29.9"), (150, "140")],
)
def test_matches_naive_factorial_formula(n: int, a: str) -> None:
    exact = Fraction(a)
    assert erlang_b(n, float(exact)) == pytest.approx(float(naive_erlang_b(n, exact)), rel=1e-12)
    assert erlang_c(n, float(exact)) == pytest.approx(float(naive_erlang_c(n, exact)), rel=1e-12)


@given(st.integers(1, 60), st.fractions(min_value=0, max_value=60, max_denominator=100))
def test_matches_naive_formula_everywhere_below_saturation(n: int, a: Fraction) -> None:
    if a >= n:
        assert erlang_c(n, float(a)) == 1.0
        return
    assert erlang_c(n, float(a)) == pytest.approx(float(naive_erlang_c(n, a)), rel=1e-9, abs=1e-15)


def test_hundreds_of_agents_stay_finite_and_in_range() -> None:
    # A naive float version overflows here (1000! and 990^1000 are far beyond 1e308).
    for n, a in [(500, 480.0), (1000, 990.5), (5000, 4900.0)]:
        c = erlang_c(n, a)
        assert 0.0 < c < 1.0
    # Exact rationals still work at 200 agents: the recursion agrees to 12 digits.
    assert erlang_c(200, 190.0) == pytest.approx(float(naive_erlang_c(200, Fraction(190))), 1e-12)


def test_saturation_and_empty_edges() -> None:
    assert erlang_c(10, 10.0) == 1.0
    assert erlang_c(10, 12.0) == 1.0
    assert erlang_c(10, 0.0) == 0.0
    assert service_level(10, 12 / 180, 180, 15) == 0.0
    assert average_speed_of_answer(10, 12 / 180, 180) == math.inf
    assert service_level(10, 0.0, 180, 15) == 1.0
    assert agents_for_service_level(0.0, 180, 15) == 1


def test_service_level_and_asa_move_the_right_way() -> None:
    rate, h = 1 / 9, 180.0  # A = 20 Erlangs
    levels = [service_level(n, rate, h, 15) for n in range(21, 40)]
    assert levels == sorted(levels)
    asas = [average_speed_of_answer(n, rate, h) for n in range(21, 40)]
    assert asas == sorted(asas, reverse=True)
    # Service level at t = 0 is 1 - C: the share of calls that do not wait at all.
    assert service_level(25, rate, h, 0) == pytest.approx(1 - erlang_c(25, 20.0))


def test_staffing_is_the_fewest_agents_that_reach_the_goal() -> None:
    for rate in (0.01, 0.1, 1.0, 5.0):
        n = agents_for_service_level(rate, 180, 15, goal=0.95)
        assert service_level(n, rate, 180, 15) >= 0.95
        assert service_level(n - 1, rate, 180, 15) < 0.95


@pytest.mark.parametrize(
    "bad",
    [
        lambda: erlang_c(-1, 1.0),
        lambda: erlang_c(2, -0.1),
        lambda: erlang_c(2, math.nan),
        lambda: service_level(2, 0.1, 0, 15),
        lambda: service_level(2, 0.1, 10, -1),
        lambda: agents_for_service_level(0.1, 10, 15, goal=1.0),
    ],
)
def test_rejects_nonsense(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        bad()
