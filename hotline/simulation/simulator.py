"""A discrete-event simulation of a contact centre around the real ACD core.

The simulator plays the world: callers, phones and agents on a virtual clock (a heapq of timed
happenings). Every routing decision is made by the router, by default ``hotline.acd.core.Acd``
itself
(router ``"ours"``, with ``Scenario.policy``), or the app_queue model of
``hotline/simulation/appqueue.py``
(``"fifo-per-queue"``, ``"fifo-per-queue-rrmemory"``) or any factory ``policy -> router``: the
simulator only feeds it events and carries out its decisions, so what the simulation measures
is the real core.

Model (``Scenario``):

- ``agents`` (groups) log in and become ready at t = 0 and stay for the whole run; ``roster``
  agents log in and become ready at ``shift_start_s`` and leave at ``shift_end_s``: an idle
  agent at once (``AgentNotReady``, reason ``shift_end``, then ``AgentLoggedOut``), one with a
  call (ringing or talking) when that call ends, so no call is cut. The core has no "not ready
  after this call" request, so when a leaving agent's call ends without wrap-up the core may
  offer the agent the next call at that instant: the simulated agent declines it at once
  (``OfferFailed``, reason ``shift_end``) and the call goes back to its place with no time
  lost. With a wrap-up the agent is made not ready during it and is offered nothing.
- Calls arrive per skill as independent Poisson processes (``arrival_rate_per_s``) during
  ``[0, duration_s)``, and/or from a ``trace`` of ``TraceCall``s.
- Handle (talk) time: exponential with mean ``mean_handle_s``, or drawn uniformly from
  ``handle_samples_s`` (an empirical distribution, e.g. from call records); trace calls carry
  their own. A callback talks for its call's handle time too.
- An offered call rings for ``ring_s`` seconds and is answered, except with probability
  ``ring_no_answer_p``, when it rings the core's full ``ring_timeout_s`` and fails
  (``OfferFailed``); the core then makes the agent not ready and the simulated agent comes back
  ``rna_recovery_s`` later.
- Caller patience: none (callers wait for ever), or exponential with mean ``mean_patience_s``
  (``CallerHungUp`` if not yet answered, including while the agent's phone is ringing); trace
  calls carry their own.
- Wrap-up is the router's policy (``policy.wrapup_s``); it ends on a ``Tick``, sent every
  ``tick_interval_s``, so an agent can be up to one interval late back to ready.
- Callbacks: a caller offered a callback (``OfferCallback``) accepts it with probability
  ``callback_accept_p`` (``CallbackAccepted``, number: the caller) and hangs up. A placed
  callback (``PlaceCallback``: accepted, or a missed call, 漏接回拨) rings the agent as an
  offer does (``ring_s``, ring-no-answer), then the citizen, who answers with probability
  ``callback_answer_p`` after ``callback_answer_s`` (``CallbackConnected``, then talk, then
  ``CallEnded``), or else does not answer for ``callback_ring_s`` (``CallbackFailed``).
- ``callback_hours_s``: callbacks may be placed only in these working hours (``CallbacksPaused``
  and ``CallbacksResumed`` at their edges, as the engine sends them from its BusinessHours).
- Whatever else the router decides is carried out or recorded: a caller it sends to voicemail
  has left; estimates (``CallEstimate``, kept per call) and announcements change nothing. A
  decision the world cannot carry out stops the run with ``SimulationError``.

Random draws come from separate streams per purpose (arrivals, handle times, patience, ring
outcome, callback acceptance, callback answer), each seeded from ``seed``: the run is
deterministic, and a change to one parameter does not reshuffle the draws of the others
(common random numbers when comparing scenarios or routers). Handle time and patience are drawn
at arrival, so they do not depend on routing order.

Statistics cover the calls that arrive in ``[warmup_s, duration_s)``; with ``drain`` (the
default) the run goes on after ``duration_s`` without new arrivals until every call is answered
or has left (callbacks still to place count as not yet left), so no wait is cut short by the
end of the run; ``drain_limit_s`` later at most (a call for a skill nobody has would otherwise
keep it going for ever). ``SimulationResult.figures`` and ``by_skill`` give the service figures
(``Figures``) overall and per skill.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hotline.acd.core import Acd, AcdPolicy
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    AnnouncePosition,
    CallAbandoned,
    CallAnswered,
    CallbackAccepted,
    CallbackCancelled,
    CallbackConnected,
    CallbackFailed,
    CallbackGaveUp,
    CallbacksPaused,
    CallbacksResumed,
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
    PlaceCallback,
    SendToVoicemail,
    Tick,
)
from hotline.simulation.appqueue import AppQueueConfig, FifoPerQueue

# No wrap-up, the Erlang C model; pass the production policy to see what wrap-up costs.
ERLANG_POLICY = AcdPolicy(ring_timeout_s=15.0, wrapup_s=0.0)
BUSY_STATES = frozenset({AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})


class SimulationError(RuntimeError):
    """The router did something the world cannot carry out (e.g. a second call to a busy agent)."""


class Router(Protocol):
    """What the simulator drives: ``hotline.acd.core.Acd`` or
    ``hotline.simulation.appqueue.FifoPerQueue``."""

    def handle(self, event: Event) -> list[Decision]: ...


RouterFactory = Callable[[AcdPolicy], Router]


def _ours(policy: AcdPolicy) -> Router:
    return Acd(policy)  # looked up at call time: tests may replace ``Acd``


def _fifo(strategy: str) -> RouterFactory:
    def make(policy: AcdPolicy) -> Router:
        return FifoPerQueue(AppQueueConfig.from_policy(policy, strategy=strategy))

    return make


ROUTERS: dict[str, RouterFactory] = {
    "ours": _ours,
    "fifo-per-queue": _fifo("leastrecent"),
    "fifo-per-queue-rrmemory": _fifo("rrmemory"),
}


def make_router(router: str | RouterFactory, policy: AcdPolicy) -> Router:
    """A router by name (``ROUTERS``) or from a factory, with ``policy``."""
    if isinstance(router, str):
        if router not in ROUTERS:
            raise ValueError(f"unknown router {router!r}; there are {', '.join(ROUTERS)}")
        return ROUTERS[router](policy)
    return router(policy)


@dataclass(frozen=True, slots=True)
class AgentGroup:
    count: int
    skills: tuple[tuple[str, int], ...] = (("general", 1),)


@dataclass(frozen=True, slots=True)
class RosterAgent:
    """One agent with a shift: logged in and ready in ``[shift_start_s, shift_end_s)``."""

    agent_id: str
    skills: tuple[tuple[str, int], ...]  # (skill, level 1..10; 1 is the best)
    shift_start_s: float = 0.0
    shift_end_s: float = math.inf


@dataclass(frozen=True, slots=True)
class TraceCall:
    arrival_at: float
    skill: str
    priority: int
    handle_s: float
    patience_s: float | None = None  # None: waits for ever
    caller: str = ""  # the caller's number; empty: a new caller, unique to this call


@dataclass(frozen=True, kw_only=True)
class Scenario:
    agents: tuple[AgentGroup, ...] = ()
    roster: tuple[RosterAgent, ...] = ()
    arrival_rate_per_s: Mapping[str, float] = field(default_factory=dict)
    trace: tuple[TraceCall, ...] = ()
    mean_handle_s: float = 180.0
    handle_samples_s: tuple[float, ...] = ()  # if given, used instead of the exponential
    mean_patience_s: float | None = None  # None: callers never hang up
    ring_s: float = 0.0
    ring_no_answer_p: float = 0.0
    rna_recovery_s: float = 60.0
    callback_accept_p: float = 0.0  # a caller offered a callback takes it
    callback_answer_p: float = 1.0  # the citizen answers a callback
    callback_answer_s: float = 8.0  # ... after ringing this long
    callback_ring_s: float = 30.0  # an unanswered callback rings this long, then fails
    # The working hours callbacks may be placed in, [start, end) (CallbacksPaused outside
    # them, as the engine's BusinessHours tells the core); None: always.
    callback_hours_s: tuple[float, float] | None = None
    router: str | RouterFactory = "ours"
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
        if not (0 <= self.callback_accept_p <= 1 and 0 <= self.callback_answer_p <= 1):
            raise ValueError("callback_accept_p and callback_answer_p must be in [0, 1]")
        if not (self.callback_answer_s >= 0 and self.callback_ring_s >= 0):
            raise ValueError("callback_answer_s and callback_ring_s must be >= 0")
        hours = self.callback_hours_s
        if hours is not None and not 0 <= hours[0] < hours[1]:
            raise ValueError("callback_hours_s must be (start, end) with 0 <= start < end")
        if self.tick_interval_s <= 0 or self.mean_handle_s <= 0:
            raise ValueError("tick_interval_s and mean_handle_s must be > 0")
        if any(rate < 0 for rate in self.arrival_rate_per_s.values()):
            raise ValueError("arrival rates must be >= 0")
        ids = [a.agent_id for a in self.roster]
        groups = sum(g.count for g in self.agents)  # named a00001, a00002...
        if len(set(ids)) != len(ids) or any(not i or _group_id(i, groups) for i in ids):
            raise ValueError("roster agent ids must be unique, non-empty and not a group's")
        if any(not 0 <= a.shift_start_s < a.shift_end_s for a in self.roster):
            raise ValueError("a roster shift must have 0 <= shift_start_s < shift_end_s")


def _group_id(agent_id: str, groups: int) -> bool:
    """Whether a group agent (a00001 .. a{groups}) has this id."""
    return (
        len(agent_id) == 6
        and agent_id[0] == "a"
        and agent_id[1:].isdigit()
        and (1 <= int(agent_id[1:]) <= groups)
    )


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    skill: str
    priority: int
    queued_at: float
    answered_at: float | None  # at most one of answered_at, abandoned_at, voicemail_at,
    abandoned_at: float | None  # accepted_at is set; none of them: still waiting when the run
    voicemail_at: float | None  # stopped. voicemail: the router sent the caller to voicemail
    ended_at: float | None  # None: not answered, or still talking when the run stopped
    agent_id: str | None
    offers: int  # how many times it was offered (more than 1 after ring-no-answer)
    caller: str = ""
    accepted_at: float | None = None  # the caller accepted a callback (and hung up)
    called_back_at: float | None = None  # a callback reached the citizen (accepted or missed)
    left_at: float | None = None  # a callback given up or cancelled (the caller called again)
    attempts: int = 0  # callbacks placed for it
    position: int | None = None  # as given at queue entry (CallEstimate)
    estimate_s: float | None = None  # EWT given at queue entry; None: none, or no agents

    @property
    def settled(self) -> bool:
        """Answered, abandoned, sent to voicemail or called back later: its wait is over."""
        return not (self.answered_at is None and self.abandoned_at is None
                    and self.voicemail_at is None and self.accepted_at is None)  # fmt: skip

    def wait_s(self, end_at: float) -> float:
        """Seconds from queueing to answer, hang-up, voicemail or accepting a callback; to
        ``end_at`` if still waiting."""
        for until in (self.answered_at, self.abandoned_at, self.voicemail_at, self.accepted_at):
            if until is not None:
                return until - self.queued_at
        return end_at - self.queued_at


@dataclass(frozen=True, slots=True)
class Figures:
    """The service figures of a set of calls (``hotline simulate`` prints these).

    ``service_level_15s``: answered within the target (15 s unless ``Scenario.target_s`` says
    otherwise) / offered; ``answer_rate``: answered / offered; ``served_rate``: (answered +
    called back) / offered, a call called back after it was abandoned counting as served;
    ``asa_s`` and ``max_wait_s``: mean and longest wait of the answered calls. Rates and waits
    are None when there is nothing to divide by."""

    offered: int
    answered: int
    abandoned: int
    called_back: int
    service_level_15s: float | None
    answer_rate: float | None
    served_rate: float | None
    asa_s: float | None
    max_wait_s: float | None

    @classmethod
    def of(cls, records: Iterable[CallRecord], target_s: float) -> Figures:
        offered = abandoned = called_back = within = 0
        waits: list[float] = []
        for r in records:
            offered += 1
            if r.answered_at is not None:
                wait = r.answered_at - r.queued_at
                waits.append(wait)
                within += wait <= target_s
            abandoned += r.abandoned_at is not None
            called_back += r.called_back_at is not None

        def rate(n: int) -> float | None:
            return n / offered if offered else None

        return cls(
            offered=offered,
            answered=len(waits),
            abandoned=abandoned,
            called_back=called_back,
            service_level_15s=rate(within),
            answer_rate=rate(len(waits)),
            served_rate=rate(len(waits) + called_back),
            asa_s=sum(waits) / len(waits) if waits else None,
            max_wait_s=max(waits) if waits else None,
        )

    def as_dict(self) -> dict[str, int | float | None]:
        return {name: getattr(self, name) for name in self.__slots__}


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
    events: int  # events handed to the router
    decisions: int  # decisions it returned
    wall_s: float
    callbacks: int  # callers who accepted a callback (their live wait ended there)
    figures: Figures  # the service figures, overall
    by_skill: Mapping[str, Figures]  # ... and per skill, by skill name

    @property
    def events_per_s(self) -> float:
        """Router events per wall-clock second, simulator overhead included."""
        return self.events / self.wall_s if self.wall_s > 0 else math.inf


# --- what happens in the simulated world, in time order ---------------------------------------


@dataclass(slots=True)
class _Call:
    call_id: str
    skill: str
    priority: int
    handle_s: float
    queued_at: float
    caller: str
    answered_at: float | None = None
    abandoned_at: float | None = None
    voicemail_at: float | None = None
    ended_at: float | None = None
    agent_id: str | None = None
    offers: int = 0
    accepted_at: float | None = None
    called_back_at: float | None = None
    left_at: float | None = None
    attempts: int = 0
    position: int | None = None
    estimate_s: float | None = None
    estimated: bool = False
    ringing: bool = False  # an agent's phone rings for it (an offer or a callback placed)
    open: bool = True  # the router still has it and it is not answered

    @property
    def settled(self) -> bool:
        return not (self.answered_at is None and self.abandoned_at is None
                    and self.voicemail_at is None and self.accepted_at is None)  # fmt: skip


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
class _CallbackOver:
    call_id: str
    agent_id: str
    offer: int
    connected: bool  # the citizen answered


@dataclass(frozen=True, slots=True)
class _Tick:
    pass  # sends a Tick and schedules the next one


@dataclass(frozen=True, slots=True)
class _Send:
    event: Event  # goes to the router as it is


@dataclass(frozen=True, slots=True)
class _ShiftStart:
    agent: RosterAgent


@dataclass(frozen=True, slots=True)
class _ShiftEnd:
    agent_id: str


@dataclass(frozen=True, slots=True)
class _Leave:
    agent_id: str  # not ready, then logged out: as soon as the agent has no call


_Happening = (
    _Arrival | _TraceArrival | _RingOver | _CallbackOver | _Tick | _Send | _ShiftStart | _ShiftEnd
)
_STREAMS = ("arr", "handle", "pat", "ring", "accept", "callback")


class _Run:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.router = make_router(sc.router, sc.policy)
        self.rng = {k: random.Random(f"{sc.seed}/{k}") for k in _STREAMS}
        self.heap: list[tuple[float, int, _Happening]] = []
        self.seq = 0
        self.now = 0.0
        self.calls: dict[str, _Call] = {}
        self.open_calls = 0  # the router still has them, not answered: what drain waits for
        self.holding: dict[str, str] = {}  # agent -> the call ringing it or talking to it
        self.agent_state: dict[str, tuple[AgentState, float]] = {}
        self.logged_in: set[str] = set()
        self.leaving: set[str] = set()  # shift over, waiting for the current call to end
        self.touched: set[str] = set()  # leaving agents whose state changed in this batch
        self.follow: deque[Event | _Leave] = deque()  # to send once this event is done
        self.sending = False
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
                self.log_in(f"a{n:05d}", group.skills, 0.0)
        last = sc.duration_s + sc.drain_limit_s if sc.drain else sc.duration_s
        for agent in sc.roster:
            if agent.shift_start_s <= last:
                self.at(agent.shift_start_s, _ShiftStart(agent))
            if agent.shift_end_s <= last:
                self.at(agent.shift_end_s, _ShiftEnd(agent.agent_id))
        for skill, rate in sorted(sc.arrival_rate_per_s.items()):
            if rate > 0:
                self.at(self.rng["arr"].expovariate(rate), _Arrival(skill))
        for tc in sorted(sc.trace, key=lambda c: c.arrival_at):  # stable: ties keep list order
            if tc.arrival_at < sc.duration_s:
                self.at(float(tc.arrival_at), _TraceArrival(tc))
        self.at(sc.tick_interval_s, _Tick())
        if sc.callback_hours_s is not None:
            start, end = sc.callback_hours_s
            if start > 0:
                self.send(CallbacksPaused(at=0.0))
                self.at(start, _Send(CallbacksResumed(at=start)))
            self.at(end, _Send(CallbacksPaused(at=end)))
        # Ticks recur, so the heap never runs dry: the clock is what ends the run.
        while self.heap[0][0] <= sc.duration_s or (self.open_calls and self.heap[0][0] <= last):
            self.now, _, what = heapq.heappop(self.heap)
            self.happen(self.now, what)
        end_at = max(self.now, sc.duration_s)
        for state, since in self.agent_state.values():
            self.account(state, since, end_at)
        return self.result(end_at, time.perf_counter() - started)

    def log_in(self, agent_id: str, skills: tuple[tuple[str, int], ...], now: float) -> None:
        self.logged_in.add(agent_id)
        self.send(AgentLoggedIn(agent_id=agent_id, seat=f"SIM/{agent_id}", skills=skills,
                                at=now))  # fmt: skip
        self.send(AgentReady(agent_id=agent_id, at=now))

    def happen(self, now: float, what: _Happening) -> None:
        sc = self.sc
        match what:
            case _Tick():
                self.send(Tick(at=now))
                self.at(now + sc.tick_interval_s, what)
            case _Send(event=event):
                self.send(event)
            case _Arrival(skill=skill):
                self.queue(now, skill, 0, self.handle_time(), self.patience(), "")
                nxt = now + self.rng["arr"].expovariate(sc.arrival_rate_per_s[skill])
                if nxt < sc.duration_s:
                    self.at(nxt, _Arrival(skill))
            case _TraceArrival(call=tc):
                self.queue(now, tc.skill, tc.priority, tc.handle_s, tc.patience_s, tc.caller)
            case _RingOver(call_id=call_id, agent_id=agent_id, offer=offer, answered=answered):
                if self.current(call_id, agent_id, offer):
                    if answered:
                        self.send(AgentAnswered(call_id=call_id, agent_id=agent_id, at=now))
                    else:
                        self.send(OfferFailed(call_id=call_id, agent_id=agent_id,
                                              reason="ring_no_answer", at=now))  # fmt: skip
            case _CallbackOver(call_id=call_id, agent_id=agent_id, offer=offer, connected=ok):
                if self.current(call_id, agent_id, offer):
                    if ok:
                        self.send(CallbackConnected(call_id=call_id, agent_id=agent_id, at=now))
                    else:
                        self.send(CallbackFailed(call_id=call_id, agent_id=agent_id,
                                                 reason="no_answer", at=now))  # fmt: skip
            case _ShiftStart(agent=agent):
                self.log_in(agent.agent_id, agent.skills, now)
            case _ShiftEnd(agent_id=agent_id):
                if agent_id in self.logged_in:
                    self.leaving.add(agent_id)
                    self.send(_Leave(agent_id))

    def current(self, call_id: str, agent_id: str, offer: int) -> bool:
        """The ring this happening ends is still on (not hung up, cancelled or superseded)."""
        return self.calls[call_id].offers == offer and self.holding.get(agent_id) == call_id

    def handle_time(self) -> float:
        if self.sc.handle_samples_s:
            return self.rng["handle"].choice(self.sc.handle_samples_s)
        return self.rng["handle"].expovariate(1.0 / self.sc.mean_handle_s)

    def patience(self) -> float | None:
        mean = self.sc.mean_patience_s
        return None if mean is None else self.rng["pat"].expovariate(1.0 / mean)

    def queue(
        self, now: float, skill: str, prio: int, handle_s: float, pat: float | None, caller: str
    ) -> None:
        call_id = f"c{len(self.calls) + 1:07d}"
        caller = caller or f"sim-{call_id}"
        self.calls[call_id] = _Call(call_id, skill, prio, handle_s, now, caller)
        self.open_calls += 1
        if pat is not None:
            self.at(now + pat, _Send(CallerHungUp(call_id=call_id, at=now + pat)))
        self.send(CallQueued(call_id=call_id, skill=skill, priority=prio, caller=caller,
                             channel=f"SIM/{call_id}", at=now))  # fmt: skip

    # -- events to the router ------------------------------------------------------------------
    def send(self, event: Event | _Leave) -> None:
        """Send now, or, while the decisions of another event are being carried out, right
        after them, in order."""
        self.follow.append(event)
        if self.sending:
            return
        self.sending = True
        try:
            while self.follow:
                self.send_one(self.follow.popleft())
        finally:
            self.sending = False

    def send_one(self, event: Event | _Leave) -> None:
        if not self.before(event):
            return
        assert not isinstance(event, _Leave)
        decisions = self.router.handle(event)
        self.events += 1
        self.decisions += len(decisions)
        for decision in decisions:
            self.carry_out(decision)
        if self.touched:
            for agent_id in sorted(self.touched):
                if agent_id in self.leaving and agent_id not in self.holding:
                    self.follow.append(_Leave(agent_id))
            self.touched.clear()

    def before(self, event: Event | _Leave) -> bool:
        """What the world does as the event happens; False: it no longer happens."""
        now = self.now
        match event:
            case _Leave(agent_id=agent_id):
                if agent_id not in self.leaving or agent_id in self.holding:
                    return False  # already gone, or a call came first: when it ends
                self.leaving.discard(agent_id)
                self.logged_in.discard(agent_id)
                self.send_one(AgentNotReady(agent_id=agent_id, reason="shift_end", at=now))
                self.send_one(AgentLoggedOut(agent_id=agent_id, at=now))
                return False
            case AgentReady(agent_id=agent_id):
                return agent_id in self.logged_in and agent_id not in self.leaving
            case CallerHungUp(call_id=call_id):
                call = self.calls[call_id]
                return not call.settled  # patience only counts until answer (or a callback)
            case CallbackAccepted(call_id=call_id):
                call = self.calls[call_id]
                if call.settled or call.ringing or not call.open:
                    return False  # the offer came too late: the caller is being served
                call.accepted_at = now
            case (
                OfferFailed(call_id=call_id, agent_id=agent_id)
                | CallbackFailed(call_id=call_id, agent_id=agent_id)
            ):
                self.release(agent_id, call_id)
            case CallbackConnected(call_id=call_id, agent_id=agent_id):
                call = self.calls[call_id]
                call.called_back_at, call.agent_id, call.ringing = now, agent_id, False
                self.close(call)
                end = now + call.handle_s
                self.at(end, _Send(CallEnded(call_id=call_id, agent_id=agent_id, at=end)))
            case CallEnded(call_id=call_id, agent_id=agent_id):
                del self.holding[agent_id]
                self.calls[call_id].ended_at = now
        return True

    def release(self, agent_id: str, call_id: str) -> None:
        if self.holding.get(agent_id) == call_id:
            del self.holding[agent_id]
        self.calls[call_id].ringing = False

    def close(self, call: _Call) -> None:
        if call.open:
            call.open = False
            self.open_calls -= 1

    # -- decisions from the router -------------------------------------------------------------
    def carry_out(self, d: Decision) -> None:
        match d:
            case OfferCall() | PlaceCallback():
                self.ring(d)
            case CallAnswered():
                call = self.calls[d.call_id]
                call.answered_at, call.agent_id, call.ringing = d.at, d.agent_id, False
                self.close(call)
                self.at(d.at + call.handle_s,
                        _Send(CallEnded(call_id=d.call_id, agent_id=d.agent_id,
                                        at=d.at + call.handle_s)))  # fmt: skip
            case CallAbandoned():
                call = self.calls[d.call_id]
                call.abandoned_at, call.ringing = d.at, False
                self.close(call)
            case MissedCallListed():
                call = self.calls[d.call_id]
                call.open = True  # back in the router: to be called back
                self.open_calls += 1
            case AgentStateChanged():
                prev = self.agent_state.get(d.agent_id)
                if prev is not None:
                    self.account(prev[0], prev[1], d.at)
                self.agent_state[d.agent_id] = (d.state, d.at)
                if d.agent_id in self.leaving:
                    self.touched.add(d.agent_id)
                elif d.state is AgentState.NOT_READY and d.reason == "ring_no_answer":
                    # The absent agent comes back after a while (and may miss again).
                    ready_at = d.at + self.sc.rna_recovery_s
                    self.at(ready_at, _Send(AgentReady(agent_id=d.agent_id, at=ready_at)))
            case CancelOffer():
                self.release(d.agent_id, d.call_id)  # its pending _RingOver is now stale
            case SendToVoicemail():
                call = self.calls[d.call_id]
                call.voicemail_at = d.at
                self.close(call)
            case CallEstimate():
                call = self.calls[d.call_id]
                if not call.estimated:
                    call.estimated, call.position, call.estimate_s = True, d.position, d.ewt_s
            case OfferCallback():
                p = self.sc.callback_accept_p
                if p > 0 and self.rng["accept"].random() < p:
                    call = self.calls[d.call_id]
                    self.follow.append(CallbackAccepted(call_id=d.call_id, number=call.caller,
                                                        at=self.now))  # fmt: skip
            case CallbackGaveUp() | CallbackCancelled():
                call = self.calls[d.call_id]
                call.left_at = self.now
                self.close(call)
            case AnnouncePosition():
                pass  # told to the caller; changes nothing
            case _:
                raise SimulationError(f"the simulator cannot carry out {type(d).__name__}")

    def ring(self, d: OfferCall | PlaceCallback) -> None:
        """An agent's phone rings: a live call offered, or the agent's leg of a callback."""
        kind = type(d).__name__
        if d.agent_id in self.holding:
            raise SimulationError(
                f"{kind}: {d.call_id} to {d.agent_id}, who has {self.holding[d.agent_id]}"
            )
        call = self.calls[d.call_id]
        callback = isinstance(d, PlaceCallback)
        if call.ringing or (call.settled and not callback) or not call.open:
            raise SimulationError(f"{kind}: {d.call_id} is not waiting for an agent")
        self.holding[d.agent_id] = d.call_id
        call.offers += 1
        call.agent_id, call.ringing = d.agent_id, True
        call.attempts += callback
        if d.agent_id in self.leaving:  # shift over: declines at once (module docstring)
            self.follow.append(OfferFailed(call_id=d.call_id, agent_id=d.agent_id,
                                           reason="shift_end", at=self.now))  # fmt: skip
            return
        sc = self.sc
        fails = sc.ring_no_answer_p > 0 and self.rng["ring"].random() < sc.ring_no_answer_p
        if fails:
            self.at(self.now + d.ring_timeout_s,
                    _RingOver(d.call_id, d.agent_id, call.offers, False))  # fmt: skip
        elif not callback:
            self.at(self.now + sc.ring_s, _RingOver(d.call_id, d.agent_id, call.offers, True))
        else:
            ok = sc.callback_answer_p >= 1 or self.rng["callback"].random() < sc.callback_answer_p
            rings = sc.ring_s + (sc.callback_answer_s if ok else sc.callback_ring_s)
            self.at(self.now + rings, _CallbackOver(d.call_id, d.agent_id, call.offers, ok))

    # -- figures -------------------------------------------------------------------------------
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
                       c.abandoned_at, c.voicemail_at, c.ended_at, c.agent_id, c.offers,
                       c.caller, c.accepted_at, c.called_back_at, c.left_at, c.attempts,
                       c.position, c.estimate_s)
            for c in self.calls.values()
        )  # fmt: skip
        window = [r for r in records if sc.warmup_s <= r.queued_at < sc.duration_s]
        answered = [r for r in window if r.answered_at is not None]
        abandoned = sum(1 for r in window if r.abandoned_at is not None)
        voicemail = sum(1 for r in window if r.voicemail_at is not None)
        callbacks = sum(1 for r in window if r.accepted_at is not None)
        waiting = len(window) - len(answered) - abandoned - voicemail - callbacks
        waits = sorted(r.wait_s(end_at) for r in answered)
        # A call still waiting at the end has missed the target only if it already waited
        # longer; one that has not is undecided and left out of the service level.
        undecided = sum(1 for r in window if not r.settled and r.wait_s(end_at) <= sc.target_s)
        decided = len(window) - undecided
        within = sum(1 for w in waits if w <= sc.target_s)
        waited = sum(1 for r in window if r.wait_s(end_at) > 0)
        worked = self.busy_s + self.ready_s
        by_skill: dict[str, list[CallRecord]] = {}
        for r in window:
            by_skill.setdefault(r.skill, []).append(r)
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
            callbacks=callbacks,
            figures=Figures.of(window, sc.target_s),
            by_skill={s: Figures.of(rs, sc.target_s) for s, rs in sorted(by_skill.items())},
        )


def simulate(scenario: Scenario) -> SimulationResult:
    """Run one scenario through a fresh router; same scenario (and seed), same result."""
    return _Run(scenario).run()


def figures_json(result: SimulationResult) -> dict[str, object]:
    """The service figures as ``hotline simulate --json`` prints them."""
    return {
        "overall": result.figures.as_dict(),
        "by_skill": {skill: f.as_dict() for skill, f in result.by_skill.items()},
    }


def format_figures(result: SimulationResult) -> str:
    """The service figures as a table, overall then per skill."""
    head = ("skill", "offered", "answered", "abandoned", "called back", "SL 15 s",
            "answered %", "served %", "ASA s", "max wait s")  # fmt: skip

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    def sec(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}"

    rows = [head] + [
        (name, str(f.offered), str(f.answered), str(f.abandoned), str(f.called_back),
         pct(f.service_level_15s), pct(f.answer_rate), pct(f.served_rate), sec(f.asa_s),
         sec(f.max_wait_s))
        for name, f in [("all", result.figures), *result.by_skill.items()]
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
