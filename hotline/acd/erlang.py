"""Erlang C: the textbook M/M/c queue, used to check the ACD and to size a centre.

Model assumptions (the ones the formulas need, and the ones a real hotline breaks):

- calls arrive as a Poisson process of rate ``lambda`` (calls per second);
- handle times are exponential with mean ``h`` seconds, independent of everything else;
- ``N`` identical agents, each takes any call, one call at a time, no wrap-up, no ring time;
- one FIFO queue, callers never hang up (no abandonment), the queue is unbounded;
- steady state, which exists only when the offered load ``A = lambda * h`` (Erlangs) is
  below ``N``. At ``A >= N`` the queue grows without bound: every call waits (probability 1)
  and the wait is infinite.

Because callers never give up, Erlang C is pessimistic for a real centre, where impatient
callers leave and shorten the queue for the others.

Everything is computed with the Erlang B recursion, which uses no factorials and no powers,
so it neither overflows nor loses precision for hundreds or thousands of agents.
"""

from __future__ import annotations

import math


def _check(agents: int, offered_erlangs: float) -> None:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise ValueError(f"agents must be an int >= 0, not {agents!r}")
    if not (math.isfinite(offered_erlangs) and offered_erlangs >= 0):
        raise ValueError(f"offered load must be a finite number >= 0, not {offered_erlangs!r}")


def erlang_b(agents: int, offered_erlangs: float) -> float:
    """Blocking probability of an M/M/N/N loss system (Erlang B).

    ``B(0) = 1``, ``B(n) = A * B(n-1) / (n + A * B(n-1))``: the closed form
    ``B = (A^N / N!) / sum_{k=0..N} A^k / k!`` without the overflowing terms.
    """
    _check(agents, offered_erlangs)
    b = 1.0
    for n in range(1, agents + 1):
        b = offered_erlangs * b / (n + offered_erlangs * b)
    return b


def erlang_c(agents: int, offered_erlangs: float) -> float:
    """Probability that a call has to wait (Erlang C), ``P(W > 0)``.

    ``C = N * B / (N - A * (1 - B))`` with ``B`` the Erlang B value, which equals the textbook
    ``C = (A^N / N!) * N / (N - A) / (sum_{k<N} A^k / k! + (A^N / N!) * N / (N - A))``.
    1.0 when ``A >= N`` (no steady state: everybody waits); 0.0 when ``A == 0``.
    """
    _check(agents, offered_erlangs)
    if offered_erlangs >= agents:
        return 1.0
    b = erlang_b(agents, offered_erlangs)
    return agents * b / (agents - offered_erlangs * (1.0 - b))


def _load(arrival_rate_per_s: float, mean_handle_s: float) -> float:
    if not (math.isfinite(arrival_rate_per_s) and arrival_rate_per_s >= 0):
        raise ValueError(f"arrival rate must be >= 0, not {arrival_rate_per_s!r}")
    if not (math.isfinite(mean_handle_s) and mean_handle_s > 0):
        raise ValueError(f"mean handle time must be > 0, not {mean_handle_s!r}")
    return arrival_rate_per_s * mean_handle_s


def service_level(
    agents: int, arrival_rate_per_s: float, mean_handle_s: float, target_s: float
) -> float:
    """Fraction of calls answered within ``target_s``: ``P(W <= t)``.

    ``SL = 1 - C * exp(-(N - A) * t / h)``: a waiting call's wait is exponential with rate
    ``(N - A) / h`` (all N agents busy, each frees itself at rate 1/h). 0.0 when ``A >= N``.
    """
    if not (math.isfinite(target_s) and target_s >= 0):
        raise ValueError(f"target must be >= 0 seconds, not {target_s!r}")
    a = _load(arrival_rate_per_s, mean_handle_s)
    c = erlang_c(agents, a)
    if a >= agents:
        return 0.0
    return 1.0 - c * math.exp(-(agents - a) * target_s / mean_handle_s)


def average_speed_of_answer(agents: int, arrival_rate_per_s: float, mean_handle_s: float) -> float:
    """Mean wait over all calls (ASA), seconds: ``ASA = C * h / (N - A)``; inf when ``A >= N``."""
    a = _load(arrival_rate_per_s, mean_handle_s)
    if a >= agents:
        return math.inf
    return erlang_c(agents, a) * mean_handle_s / (agents - a)


def agents_for_service_level(
    arrival_rate_per_s: float, mean_handle_s: float, target_s: float, goal: float = 0.95
) -> int:
    """The fewest agents with ``service_level(...) >= goal`` (e.g. 95 % within 15 s).

    Starts at ``floor(A) + 1``, the fewest with a steady state, and adds one agent at a time:
    the service level grows with N, and the answer is within a few square roots of A of the
    start, so the linear search is short even for thousands of Erlangs.
    """
    if not 0 <= goal < 1:
        raise ValueError(f"goal must be in [0, 1), not {goal!r}")
    a = _load(arrival_rate_per_s, mean_handle_s)
    n = math.floor(a) + 1
    while service_level(n, arrival_rate_per_s, mean_handle_s, target_s) < goal:
        n += 1
    return n
