"""Events per second the ACD core handles, and its memory, in a big centre under load.

The core is driven directly (no simulator around it): 500 agents with the production policy
(10 s wrap-up), calls talking, and either 5,000 calls waiting or none. Each cycle, one second
of virtual time, is four events: the oldest call ends (its agent goes to wrap-up), a Tick ends
the wrap-up of an agent who finished 10 s ago (the core offers it the head of the queue), that
agent answers, and a new call is queued, so the queue keeps its length.

Memory is measured with tracemalloc (which slows everything down, so on a copy of the core
restored from its snapshot, not while the timing runs): the state the core holds, and the peak
while it works. The JSON snapshot (what ``hotline/acd/store.py``
writes to Redis after every event) is sized and timed too, because at 5,000 waiting calls it
is the larger part of the work per event.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections import deque
from typing import Any

from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentReady,
    CallEnded,
    CallQueued,
    Event,
    OfferCall,
    Tick,
)

AGENTS = 500
SKILLS = ("general", "tax", "water", "power", "social")
MIN_WALL_S = 2.0  # run each measurement at least this long, in whole batches of cycles


class Centre:
    """An ACD with AGENTS agents, ``talking`` of them on calls, ``waiting`` calls queued."""

    def __init__(self, talking: int, waiting: int) -> None:
        self.acd = Acd(AcdPolicy(ring_timeout_s=15.0, wrapup_s=10.0))
        self.on_call: deque[tuple[str, str]] = deque()  # (agent, call), oldest answer first
        self.calls = self.events = self.decisions = 0
        self.now = 0.0
        for i in range(AGENTS):
            agent = f"agent{i:04d}"
            # Everybody takes every skill, at different levels: the core compares levels.
            skills = tuple((s, 1 + (i + j) % 10) for j, s in enumerate(SKILLS))
            self.feed(AgentLoggedIn(agent_id=agent, seat=f"PJSIP/{agent}", skills=skills, at=0.0))
        for i in range(talking):
            self.feed(AgentReady(agent_id=f"agent{i:04d}", at=0.0))
        for _ in range(talking + waiting):
            self.queue()
        for i in range(talking, AGENTS):
            self.feed(AgentReady(agent_id=f"agent{i:04d}", at=0.0))  # idle: nothing waits

    @classmethod
    def restored(cls, centre: Centre, snap: dict[str, Any]) -> Centre:
        """A copy of ``centre`` whose core is rebuilt from ``snap`` (its snapshot)."""
        copy = cls.__new__(cls)
        copy.acd = Acd.restore(snap, centre.acd.policy)
        copy.on_call = deque(centre.on_call)
        copy.calls, copy.events, copy.decisions = centre.calls, 0, 0
        copy.now = centre.now
        return copy

    def queue(self) -> None:
        self.calls += 1
        call_id = f"call{self.calls:07d}"
        skill = SKILLS[self.calls % len(SKILLS)]
        self.feed(CallQueued(call_id=call_id, skill=skill, priority=self.calls % 3,
                             caller="10000000000", channel=f"PJSIP/trunk-{call_id}",
                             at=self.now))  # fmt: skip

    def feed(self, event: Event) -> None:
        decisions = self.acd.handle(event)
        self.events += 1
        self.decisions += len(decisions)
        for d in decisions:
            if isinstance(d, OfferCall):  # the phone answers at once
                self.feed(AgentAnswered(call_id=d.call_id, agent_id=d.agent_id, at=self.now))
                self.on_call.append((d.agent_id, d.call_id))

    def cycle(self) -> None:
        self.now += 1.0
        agent, call_id = self.on_call.popleft()
        self.feed(CallEnded(call_id=call_id, agent_id=agent, at=self.now))
        self.feed(Tick(at=self.now))
        self.queue()


def throughput(centre: Centre) -> tuple[float, float]:
    """(events per second, microseconds per event) in the steady state."""
    waiting = len(centre.acd.waiting_calls())
    for _ in range(20):
        centre.cycle()  # past the first wrap-ups: from here every cycle is the same work
    events, started = centre.events, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < MIN_WALL_S:
        for _ in range(10):
            centre.cycle()
    n = centre.events - events
    # The load held: the queue grew only by the 10 calls queued while the first agents were
    # in wrap-up (10 cycles of 1 s), and no faster than calls were answered after that.
    assert waiting <= len(centre.acd.waiting_calls()) <= waiting + 10
    return n / elapsed, elapsed / n * 1e6


def memory(centre: Centre) -> tuple[float, float]:
    """(MB the core's state holds, MB peak while it works 50 cycles).

    The state is measured on a copy restored from the centre's snapshot: building 5,000
    waiting calls event by event under tracemalloc would take minutes, and ``restore`` builds
    the same state (it is what an engine restart does).
    """
    snap = centre.acd.snapshot()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        copy = Centre.restored(centre, snap)
        state = tracemalloc.get_traced_memory()[0] - base
        del snap
        for _ in range(50):
            copy.cycle()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return state / 2**20, peak / 2**20


def snapshot_cost(acd: Acd) -> tuple[float, float]:
    """(KB of snapshot JSON, milliseconds for snapshot() + json.dumps)."""
    started, n = time.perf_counter(), 5
    for _ in range(n):
        text = json.dumps(acd.snapshot(), separators=(",", ":"))
    return len(text) / 1024, (time.perf_counter() - started) / n * 1e3


def main() -> None:
    print(f"{AGENTS} agents, {len(SKILLS)} skills each, wrap-up 10 s; "
          "4 events per cycle: end, tick, answer, queue")  # fmt: skip
    for talking, waiting in ((AGENTS - 100, 0), (AGENTS, 500), (AGENTS, 5000)):
        started = time.perf_counter()
        centre = Centre(talking, waiting)
        build_s, build_events = time.perf_counter() - started, centre.events
        state_mb, peak_mb = memory(centre)
        snap_kb, snap_ms = snapshot_cost(centre.acd)
        per_s, us = throughput(centre)
        print(
            f"{talking:>4} on call, {waiting:>5} waiting: {per_s:>8,.0f} events/s "
            f"({us:,.0f} us/event); built by {build_events:,} events in {build_s:.1f} s; "
            f"state {state_mb:.1f} MB, peak {peak_mb:.1f} MB; "
            f"snapshot {snap_kb:,.0f} KB JSON in {snap_ms:.1f} ms",
            flush=True,
        )
