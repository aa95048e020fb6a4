"""Decision latency of the ACD core: how long one event takes, in a large busy centre.

Issue 3, must show 1: 1,000 logged-in agents over 10 skills and 2,000 waiting calls; p50 and
p99 of one event's handling in the core (goal: p99 <= 1 ms). The core is driven directly, as
the live adapter drives it, with the production policy (10 s wrap-up, 15 s ring time-out).

Every agent has 2-4 of the 10 skills at levels 1-3; all are busy, so 2,000 calls wait. Each
cycle (one virtual second) is the mix a busy centre sees: a call ends (its agent goes to
wrap-up), a Tick (wrap-ups that are over: the freed agent is offered the best waiting call it
can take), that agent answers, a new call is queued, and one waiting caller hangs up and is
replaced. Each event is timed alone with perf_counter_ns; the figures are per event type and
over all events. Run twice: the default policy, and with every threshold on (widen, overflow,
announcements every 30 s, callback offer), which makes a Tick walk the queue.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict, deque
from typing import Any

from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentReady,
    CallEnded,
    CallerHungUp,
    CallQueued,
    Event,
    OfferCall,
    Tick,
)

AGENTS = 1000
SKILLS = tuple(f"skill{i}" for i in range(10))
WAITING = 2000
CYCLES = 2000


class Centre:
    def __init__(self, policy: AcdPolicy, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.acd = Acd(policy)
        self.now = 0.0
        self.seq = 0
        self.on_call: deque[tuple[str, str]] = deque()
        self.waiting: dict[str, None] = {}  # waiting call ids, in no particular order
        self.timings: dict[str, list[int]] = defaultdict(list)
        for i in range(AGENTS):
            skills = self.rng.sample(SKILLS, self.rng.randint(2, 4))
            pairs = tuple((s, self.rng.randint(1, 3)) for s in skills)
            self.feed(AgentLoggedIn(agent_id=f"a{i:04d}", seat=f"PJSIP/a{i:04d}", skills=pairs,
                                    at=0.0), timed=False)  # fmt: skip
            self.feed(AgentReady(agent_id=f"a{i:04d}", at=0.0), timed=False)
        for _ in range(AGENTS + WAITING):
            self.queue(timed=False)

    def feed(self, event: Event, timed: bool = True) -> list[Any]:
        start = time.perf_counter_ns()
        decisions = self.acd.handle(event)
        if timed:
            self.timings[type(event).__name__].append(time.perf_counter_ns() - start)
        for d in decisions:
            if isinstance(d, OfferCall):  # the phone answers at once
                self.acd.handle(AgentAnswered(call_id=d.call_id, agent_id=d.agent_id, at=self.now))
                self.on_call.append((d.agent_id, d.call_id))
                self.waiting.pop(d.call_id, None)
        return decisions

    def queue(self, timed: bool = True) -> None:
        self.seq += 1
        call = f"c{self.seq}"
        self.waiting[call] = None
        self.feed(CallQueued(call_id=call, skill=self.rng.choice(SKILLS),
                             priority=self.rng.choice((0, 0, 0, 1)), caller=f"138{self.seq:08d}",
                             channel=f"Local/{call}", at=self.now), timed)  # fmt: skip

    def cycle(self) -> None:
        self.now += 1.0
        agent, call = self.on_call.popleft()
        self.feed(CallEnded(call_id=call, agent_id=agent, at=self.now))
        self.feed(Tick(at=self.now))
        self.queue()
        # One waiting caller gives up and another calls in: the queue keeps its length.
        if self.waiting:
            gone = self.rng.choice(list(self.waiting))
            del self.waiting[gone]
            self.feed(CallerHungUp(call_id=gone, at=self.now))
            self.queue()


def pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def run(name: str, policy: AcdPolicy) -> None:
    centre = Centre(policy)
    for _ in range(CYCLES):
        centre.cycle()
    waiting = len(centre.acd.waiting_calls())
    print(f"{name}: {AGENTS} agents, {len(SKILLS)} skills, {waiting} calls waiting")
    print("  event            count    p50 us    p99 us    max us")
    everything: list[int] = []
    for event, values in sorted(centre.timings.items()):
        everything += values
        print(f"  {event:<14} {len(values):7d} {pct(values, 0.5):9.1f} {pct(values, 0.99):9.1f} "
              f"{max(values) / 1000:9.1f}")  # fmt: skip
    print(f"  {'all':<14} {len(everything):7d} {pct(everything, 0.5):9.1f} "
          f"{pct(everything, 0.99):9.1f} {max(everything) / 1000:9.1f}"
          f"   (goal p99 <= 1000 us; mean {statistics.mean(everything) / 1000:.1f} us)"
          )  # fmt: skip


def main() -> None:
    run("default policy", AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0))
    run(
        "every threshold on",
        AcdPolicy(
            ring_timeout_s=15.0,
            wrapup_s=10.0,
            initial_max_level=1,
            widen_after_s=10.0,
            overflow_after_s=20.0,
            overflow={s: ("skill0",) for s in SKILLS[1:]},
            announce_every_s=30.0,
            offer_callback_after_s=60.0,
        ),
    )


if __name__ == "__main__":
    main()
