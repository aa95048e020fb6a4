"""A discrete-event simulation of a contact centre around the real ACD core.

The simulator plays the world: callers, phones and agents on a virtual clock (a heapq of timed
happenings). Every routing decision is made by ``acd.core.Acd`` itself: the simulator only feeds
it events and carries out its decisions, so what the simulation measures is the real core.

Model (``Scenario``):

- ``agents`` log in and become ready at t = 0 and stay for the whole run (no breaks, no
  shifts); each group has its skills, at the core's levels.
- Calls arrive per skill as independent Poisson processes (``arrival_rate_per_s``) during
  ``[0, duration_s)``, and/or from a ``trace`` of ``TraceCall``s.
- Handle (talk) time: exponential with mean ``mean_handle_s``, or drawn uniformly from
  ``handle_samples_s`` (an empirical distribution, e.g. from call records); trace calls carry
  their own.
- An offered call rings for ``ring_s`` seconds and is answered, except with probability
  ``ring_no_answer_p``, when it rings the core's full ``ring_timeout_s`` and fails
  (``OfferFailed``); the core then makes the agent not ready and the simulated agent comes back
  ``rna_recovery_s`` later.
- Caller patience: none (callers wait for ever), or exponential with mean ``mean_patience_s``
  (``CallerHungUp`` if not yet answered, including while the agent's phone is ringing).
- Wrap-up is the core's policy (``policy.wrapup_s``); it ends on a ``Tick``, sent every
  ``tick_interval_s``, so an agent can be up to one interval late back to ready.
- Whatever else the core decides is carried out or recorded: a caller it sends to voicemail
  has left; estimates, announcements and missed-call listings change nothing; offered a
  callback, a simulated caller declines. Decisions that would need a citizen's phone to ring
  (callbacks) stop the run with ``SimulationError``: turn them off in the policy.

Random draws come from separate streams per purpose (arrivals, handle times, patience, ring
outcome), each seeded from ``seed``: the run is deterministic, and a change to one parameter
does not reshuffle the draws of the others (common random numbers when comparing scenarios).
Handle time and patience are drawn at arrival, so they do not depend on routing order.

Statistics cover the calls that arrive in ``[warmup_s, duration_s)``; with ``drain`` (the
default) the run goes on after ``duration_s`` without new arrivals until every call is answered
or has left, so no wait is cut short by the end of the run; ``drain_limit_s`` later at most
(a call for a skill nobody has would otherwise keep it going for ever).
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.core import Acd, AcdPolicy
from acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentReady,
    AgentState,
    AgentStateChanged,
    AnnouncePosition,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallQueued,
    CancelOffer,
    Decision,
    Event,
    MissedCallListed,
    OfferCall,
    OfferCallback,
    OfferFailed,
    SendToVoicemail,
    Tick,
)

# No wrap-up, the Erlang C model; pass the production policy to see what wrap-up costs.
ERLANG_POLICY = AcdPolicy(ring_timeout_s=15.0, wrapup_s=0.0)
BUSY_STATES = frozenset({AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})


class SimulationError(RuntimeError):
    """The core did something the world cannot carry out (e.g. a second call to a busy agent)."""


@dataclass(frozen=True, slots=True)
class AgentGroup:
    count: int
    skills: tuple[tuple[str, int], ...] = (("general", 1),)


@dataclass(frozen=True, slots=True)
class TraceCall:
    arrival_at: float
    skill: str
    priority: int
    handle_s: float
    patience_s: float | None = None  # None: waits for ever


@dataclass(frozen=True, kw_only=True)
class Scenario:
    agents: tuple[AgentGroup, ...]
    arrival_rate_per_s: Mapping[str, float] = field(default_factory=dict)
    trace: tuple[TraceCall, ...] = ()
    mean_handle_s: float = 180.0
    handle_samples_s: tuple[float, ...] = ()  # if given, used instead of the exponential
    mean_patience_s: float | None = None  # None: callers never hang up
    ring_s: float = 0.0
    ring_no_answer_p: float = 0.0
    rna_recovery_s: float = 60.0
    policy: AcdPolicy = ERLANG_POLICY
    tick_interval_s: float = 1.0
    duration_s: float = 3600.0
    warmup_s: float = 0.0
    drain: bool = True
    drain_limit_s: float = 86400.0
    target_s: float = 15.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.warmup_s < self.duration_s:
            raise ValueError("need 0 <= warmup_s < duration_s")
        if not 0 <= self.ring_s <= self.policy.ring_timeout_s:
            raise ValueError("ring_s must be within [0, policy.ring_timeout_s]")
        if not 0 <= self.ring_no_answer_p < 1:
            raise ValueError("ring_no_answer_p must be in [0, 1)")
        if self.tick_interval_s <= 0 or self.mean_handle_s <= 0:
            raise ValueError("tick_interval_s and mean_handle_s must be > 0")
        if any(rate < 0 for rate in self.arrival_rate_per_s.values()):
            raise ValueError("arrival rates must be >= 0")


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    skill: str
    priority: int
    queued_at: float
    answered_at: float | None  # at most one of answered_at, abandoned_at, voicemail_at is set;
    abandoned_at: float | None  # none of them: still waiting when the run stopped
    voicemail_at: float | None  # the core sent the caller to voicemail
    ended_at: float | None  # None: not answered, or still talking when the run stopped
    agent_id: str | None
    offers: int  # how many times it was offered (more than 1 after ring-no-answer)

    @property
    def settled(self) -> bool:
        """Answered, abandoned or sent to voicemail: its wait is over."""
        return not (self.answered_at is None and self.abandoned_at is None
                    and self.voicemail_at is None)  # fmt: skip

    def wait_s(self, end_at: float) -> float:
        """Seconds from queueing to answer, hang-up or voicemail; to ``end_at`` if waiting."""
        for until in (self.answered_at, self.abandoned_at, self.voicemail_at):
            if until is not None:
                return until - self.queued_at
        return end_at - self.queued_at


@dataclass(frozen=True)
class SimulationResult:
    """Figures for the calls that arrived in ``[warmup_s, duration_s)``; ``calls`` has all."""

    calls: tuple[CallRecord, ...]
    end_at: float
    offered: int
    answered: int
    abandoned: int
    voicemail: int
    waiting: int  # not answered when the run stopped (none with drain)
    service_level: float  # answered within target / offered, still-undecided calls left out
    p_wait: float  # share of offered calls that waited at all
    asa_s: float  # mean wait of answered calls
    max_wait_s: float  # of answered calls
    p95_wait_s: float  # of answered calls, nearest rank
    occupancy: float  # (ringing + on call + wrap-up) / (that + ready), over the window
    events: int  # events handed to the core
    decisions: int  # decisions it returned
    wall_s: float

    @property
    def events_per_s(self) -> float:
        """Core events per wall-clock second, simulator overhead included."""
        return self.events / self.wall_s if self.wall_s > 0 else math.inf


# --- what happens in the simulated world, in time order ---------------------------------------


@dataclass(slots=True)
class _Call:
    call_id: str
    skill: str
    priority: int
    handle_s: float
    queued_at: float
    answered_at: float | None = None
    abandoned_at: float | None = None
    voicemail_at: float | None = None
    ended_at: float | None = None
    agent_id: str | None = None
    offers: int = 0

    @property
    def settled(self) -> bool:
        return not (self.answered_at is None and self.abandoned_at is None
                    and self.voicemail_at is None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Arrival:
    skill: str  # a Poisson arrival; schedules the next one


@dataclass(frozen=True, slots=True)
class _TraceArrival:
    call: TraceCall


@dataclass(frozen=True, slots=True)
class _RingOver:
    call_id: str
    agent_id: str
    offer: int  # stale if the call was offered again (or hung up) since
    answered: bool


@dataclass(frozen=True, slots=True)
class _Tick:
    pass  # sends a Tick and schedules the next one


@dataclass(frozen=True, slots=True)
class _Send:
    event: Event  # goes to the core as it is


_Happening = _Arrival | _TraceArrival | _RingOver | _Tick | _Send


class _Run:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.acd = Acd(sc.policy)
        self.rng = {k: random.Random(f"{sc.seed}/{k}") for k in ("arr", "handle", "pat", "ring")}
        self.heap: list[tuple[float, int, _Happening]] = []
        self.seq = 0
        self.now = 0.0
        self.calls: dict[str, _Call] = {}
        self.open_calls = 0  # waiting or ringing: what drain waits for
        self.holding: dict[str, str] = {}  # agent -> the call ringing it or talking to it
        self.agent_state: dict[str, tuple[AgentState, float]] = {}
        self.busy_s = self.ready_s = 0.0
        self.events = self.decisions = 0

    def at(self, t: float, what: _Happening) -> None:
        heapq.heappush(self.heap, (t, self.seq, what))
        self.seq += 1

    def run(self) -> SimulationResult:
        sc = self.sc
        started = time.perf_counter()
        n = 0
        for group in sc.agents:
            for _ in range(group.count):
                n += 1
                agent = f"a{n:05d}"
                self.send(AgentLoggedIn(agent_id=agent, seat=f"SIM/{agent}", skills=group.skills,
                                        at=0.0))  # fmt: skip
                self.send(AgentReady(agent_id=agent, at=0.0))
        for skill, rate in sorted(sc.arrival_rate_per_s.items()):
            if rate > 0:
                self.at(self.rng["arr"].expovariate(rate), _Arrival(skill))
        for tc in sorted(sc.trace, key=lambda c: c.arrival_at):  # stable: ties keep list order
            if tc.arrival_at < sc.duration_s:
                self.at(float(tc.arrival_at), _TraceArrival(tc))
        self.at(sc.tick_interval_s, _Tick())
        # Ticks recur, so the heap never runs dry: the clock is what ends the run.
        last = sc.duration_s + sc.drain_limit_s if sc.drain else sc.duration_s
        while self.heap[0][0] <= sc.duration_s or (self.open_calls and self.heap[0][0] <= last):
            self.now, _, what = heapq.heappop(self.heap)
            self.happen(self.now, what)
        end_at = max(self.now, sc.duration_s)
        for state, since in self.agent_state.values():
            self.account(state, since, end_at)
        return self.result(end_at, time.perf_counter() - started)

    def happen(self, now: float, what: _Happening) -> None:
        sc = self.sc
        match what:
            case _Tick():
                self.send(Tick(at=now))
                self.at(now + sc.tick_interval_s, what)
            case _Send(event=event):
                if isinstance(event, CallEnded):
                    del self.holding[event.agent_id]
                    self.calls[event.call_id].ended_at = now
                self.send(event)
            case _Arrival(skill=skill):
                self.queue(now, skill, 0, self.handle_time(), self.patience())
                nxt = now + self.rng["arr"].expovariate(sc.arrival_rate_per_s[skill])
                if nxt < sc.duration_s:
                    self.at(nxt, _Arrival(skill))
            case _TraceArrival(call=tc):
                self.queue(now, tc.skill, tc.priority, tc.handle_s, tc.patience_s)
            case _RingOver(call_id=call_id, agent_id=agent_id, offer=offer, answered=answered):
                call = self.calls[call_id]
                if call.offers != offer or self.holding.get(agent_id) != call_id:
                    return  # the caller hung up while it rang; the core cancelled the offer
                if answered:
                    self.send(AgentAnswered(call_id=call_id, agent_id=agent_id, at=now))
                else:
                    del self.holding[agent_id]
                    self.send(OfferFailed(call_id=call_id, agent_id=agent_id,
                                          reason="ring_no_answer", at=now))  # fmt: skip

    def handle_time(self) -> float:
        if self.sc.handle_samples_s:
            return self.rng["handle"].choice(self.sc.handle_samples_s)
        return self.rng["handle"].expovariate(1.0 / self.sc.mean_handle_s)

    def patience(self) -> float | None:
        mean = self.sc.mean_patience_s
        return None if mean is None else self.rng["pat"].expovariate(1.0 / mean)

    def queue(self, now: float, skill: str, prio: int, handle_s: float, pat: float | None) -> None:
        call_id = f"c{len(self.calls) + 1:07d}"
        self.calls[call_id] = _Call(call_id, skill, prio, handle_s, now)
        self.open_calls += 1
        if pat is not None:
            self.at(now + pat, _Send(CallerHungUp(call_id=call_id, at=now + pat)))
        self.send(CallQueued(call_id=call_id, skill=skill, priority=prio, caller="sim",
                             channel=f"SIM/{call_id}", at=now))  # fmt: skip

    def send(self, event: Event) -> None:
        if isinstance(event, CallerHungUp):
            call = self.calls[event.call_id]
            if call.settled:
                return  # patience only counts until answer: a talking caller does not leave
        decisions = self.acd.handle(event)
        self.events += 1
        self.decisions += len(decisions)
        for decision in decisions:
            self.carry_out(decision)

    def carry_out(self, d: Decision) -> None:
        match d:
            case OfferCall():
                if d.agent_id in self.holding:
                    raise SimulationError(
                        f"{d.call_id} offered to {d.agent_id}, who has {self.holding[d.agent_id]}"
                    )
                call = self.calls[d.call_id]
                if call.settled:
                    raise SimulationError(f"{d.call_id} offered again after it was settled")
                self.holding[d.agent_id] = d.call_id
                call.offers += 1
                call.agent_id = d.agent_id
                fails = self.sc.ring_no_answer_p > 0 and (
                    self.rng["ring"].random() < self.sc.ring_no_answer_p
                )
                ring = d.ring_timeout_s if fails else self.sc.ring_s
                self.at(self.now + ring, _RingOver(d.call_id, d.agent_id, call.offers, not fails))
            case CallAnswered():
                call = self.calls[d.call_id]
                call.answered_at, call.agent_id = d.at, d.agent_id
                self.open_calls -= 1
                self.at(d.at + call.handle_s,
                        _Send(CallEnded(call_id=d.call_id, agent_id=d.agent_id,
                                        at=d.at + call.handle_s)))  # fmt: skip
            case CallAbandoned():
                self.calls[d.call_id].abandoned_at = d.at
                self.open_calls -= 1
            case AgentStateChanged():
                prev = self.agent_state.get(d.agent_id)
                if prev is not None:
                    self.account(prev[0], prev[1], d.at)
                self.agent_state[d.agent_id] = (d.state, d.at)
                if d.state is AgentState.NOT_READY and d.reason == "ring_no_answer":
                    # The absent agent comes back after a while (and may miss again).
                    ready_at = d.at + self.sc.rna_recovery_s
                    self.at(ready_at, _Send(AgentReady(agent_id=d.agent_id, at=ready_at)))
            case CancelOffer():
                if self.holding.get(d.agent_id) == d.call_id:
                    del self.holding[d.agent_id]  # its pending _RingOver is now stale
            case SendToVoicemail():
                self.calls[d.call_id].voicemail_at = d.at
                self.open_calls -= 1
            case CallEstimate() | AnnouncePosition() | OfferCallback() | MissedCallListed():
                pass  # told to the caller or recorded; simulated callers never take a callback
            case _:
                # Callbacks need a simulated citizen's phone; better to stop than to leave an
                # agent reserved for ever and report figures that are quietly wrong.
                raise SimulationError(
                    f"the simulator cannot carry out {type(d).__name__}; turn it off in the policy"
                )

    def account(self, state: AgentState, since: float, until: float) -> None:
        """Add the part of [since, until) inside the statistics window to busy or ready time."""
        overlap = min(until, self.sc.duration_s) - max(since, self.sc.warmup_s)
        if overlap <= 0:
            return
        if state in BUSY_STATES:
            self.busy_s += overlap
        elif state is AgentState.READY:
            self.ready_s += overlap

    def result(self, end_at: float, wall_s: float) -> SimulationResult:
        sc = self.sc
        records = tuple(
            CallRecord(c.call_id, c.skill, c.priority, c.queued_at, c.answered_at,
                       c.abandoned_at, c.voicemail_at, c.ended_at, c.agent_id, c.offers)
            for c in self.calls.values()
        )  # fmt: skip
        window = [r for r in records if sc.warmup_s <= r.queued_at < sc.duration_s]
        answered = [r for r in window if r.answered_at is not None]
        abandoned = sum(1 for r in window if r.abandoned_at is not None)
        voicemail = sum(1 for r in window if r.voicemail_at is not None)
        waiting = len(window) - len(answered) - abandoned - voicemail
        waits = sorted(r.wait_s(end_at) for r in answered)
        # A call still waiting at the end has missed the target only if it already waited
        # longer; one that has not is undecided and left out of the service level.
        undecided = sum(1 for r in window if not r.settled and r.wait_s(end_at) <= sc.target_s)
        decided = len(window) - undecided
        within = sum(1 for w in waits if w <= sc.target_s)
        waited = sum(1 for r in window if r.wait_s(end_at) > 0)
        worked = self.busy_s + self.ready_s
        return SimulationResult(
            calls=records,
            end_at=end_at,
            offered=len(window),
            answered=len(answered),
            abandoned=abandoned,
            voicemail=voicemail,
            waiting=waiting,
            service_level=within / decided if decided else math.nan,
            p_wait=waited / len(window) if window else math.nan,
            asa_s=sum(waits) / len(waits) if waits else math.nan,
            max_wait_s=waits[-1] if waits else math.nan,
            p95_wait_s=waits[math.ceil(0.95 * len(waits)) - 1] if waits else math.nan,
            occupancy=self.busy_s / worked if worked > 0 else math.nan,
            events=self.events,
            decisions=self.decisions,
            wall_s=wall_s,
        )


def simulate(scenario: Scenario) -> SimulationResult:
    """Run one scenario through a fresh ``Acd``; same scenario (and seed), same result."""
    return _Run(scenario).run()
