"""Asterisk app_queue's routing, as a router with the ACD core's interface, for comparison.

``FifoPerQueue(config).handle(event) -> list[Decision]`` takes the same events and returns the
same decisions as ``hotline.acd.core.Acd``, so the simulator (``hotline/simulation/simulator.py``,
router
``fifo-per-queue``) plays one trace through either. It models app_queue as this project
configures it for the side-by-side bench (asterisk-config/queues.conf: ``autofill = yes``,
``ringinuse = no``, ``shared_lastcall = yes``, ``retry = 1``, no announcements, no penalties);
see apps/app_queue.c (``is_our_turn``, ``wait_our_turn``, ``calc_metric``, ``update_queue``,
``recalc_holdtime``).

Model
-----
- One queue per skill. An agent is a member of the queue of each of its skills; skill levels
  are ignored (every member has penalty 0). No overflow, no callbacks, no announcements,
  no voicemail, no sticky routing, no rejoin.
- A queue is FIFO: callers in arrival order (with ``queue_prio``, higher ``priority`` first,
  as app_queue does with ``QUEUE_PRIO``; off by default, as in the bench's dialplan). Nothing
  orders callers of different queues against each other.
- Whose turn (``is_our_turn`` with ``autofill``): with ``avl`` members of a queue free (ready,
  not ringing, not in wrap-up), the first ``avl`` callers of that queue that are not already
  ringing a member may try; a caller still sleeping after a failed attempt (below) keeps its
  slot but does not try.
- Which member a caller rings (``calc_metric``, lowest metric first, ties in member order):
  ``leastrecent``: a member who never completed a call first, then the one whose last call
  ended longest ago (whole seconds, as ``time_t``; shared across queues with
  ``shared_lastcall``, else per queue); ``rrmemory``: the first free member at or after the
  queue's round-robin position, which then moves past the member rung.
- A ring that is not answered (``OfferFailed``) makes the member not ready (as ``autopause``
  would; the simulated agent comes back by itself) and the caller waits ``retry_s`` before
  trying again, keeping its place.
- Wrap-up (``wrapuptime``): ``wrapup_s`` after each call, ended by a ``Tick`` as in the core.

The race between queues
-----------------------
app_queue has no dispatcher: every waiting caller runs its own loop and re-checks whether it is
its turn every second (``RECHECK`` in ``wait_our_turn``); a member who becomes free is rung by
whichever eligible caller, in any of the member's queues, re-checks first. The outcome is
decided by the phase of each caller's one-second loop, which is set by when it joined the
queue (or when its ``retry`` pause ended): unrelated to how long the callers of the different
queues have waited. The model reproduces exactly that, deterministically: the eligible caller
whose next re-check comes first wins, the re-check times being ``poll_origin + k *
recheck_s``. A tie (same phase, e.g. integer arrival times) goes to the queue listed first in
``queue_order`` (then by name), then FIFO.

Why this rule: a fixed queue order would be a strict priority between skills, which app_queue
does not have (it would starve the last queue under load); "the longest-waiting head first" is
a global order, which is precisely what app_queue lacks and our ACD adds. The phase rule keeps
the race and is still reproducible. One simplification: the member is rung at once when it
becomes free, not at the winner's re-check up to ``recheck_s`` later. That polling delay is
real app_queue latency (bench/appqueue_vs_acd.py measures it on the real Asterisk); leaving it
out flatters app_queue by up to a second per call that had to wait.

Estimated wait: ``CallEstimate`` at queue entry gives what app_queue would announce, the
queue's running average hold time, ``(3 * old + new) / 4`` over the waits of answered calls
(``recalc_holdtime``, starting at 0; kept as a float here where app_queue truncates to whole
seconds); ``position`` is the caller's place in its own queue.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from hotline.acd.core import AcdError, AcdPolicy
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackAccepted,
    CallbackConnected,
    CallbackFailed,
    CallbacksPaused,
    CallbacksResumed,
    CallEnded,
    CallerHungUp,
    CallEstimate,
    CallQueued,
    CancelOffer,
    Decision,
    Event,
    OfferCall,
    OfferFailed,
    Tick,
)
from hotline.acd.ewt import app_queue_holdtime

STRATEGIES = ("leastrecent", "rrmemory")
IDLE = frozenset({AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP})


@dataclass(frozen=True)
class AppQueueConfig:
    """The queues.conf settings that matter to routing (defaults: the project's bench queues)."""

    strategy: str = "leastrecent"
    ring_timeout_s: float = 15.0  # ``timeout``
    wrapup_s: float = 0.0  # ``wrapuptime``
    retry_s: float = 1.0  # ``retry``: pause after a failed attempt (app_queue's default is 5)
    recheck_s: float = 1.0  # RECHECK: how often a waiting caller checks whether it is its turn
    shared_lastcall: bool = True
    queue_prio: bool = False  # honour the call's priority within its queue (QUEUE_PRIO)
    queue_order: tuple[str, ...] = ()  # breaks exact ties of the race between queues

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {self.strategy!r}")
        if not (self.ring_timeout_s > 0 and self.recheck_s > 0):
            raise ValueError("ring_timeout_s and recheck_s must be > 0")
        if not (self.wrapup_s >= 0 and self.retry_s >= 0):
            raise ValueError("wrapup_s and retry_s must be >= 0")

    @classmethod
    def from_policy(cls, policy: AcdPolicy, **changes: Any) -> AppQueueConfig:
        """The same ring time-out and wrap-up as our ACD's policy (equal footing), and
        ``changes``."""
        return replace(cls(ring_timeout_s=policy.ring_timeout_s, wrapup_s=policy.wrapup_s),
                       **changes)  # fmt: skip


@dataclass(slots=True)
class _Member:
    agent_id: str
    seat: str
    queues: tuple[str, ...]
    order: int  # login order: app_queue's member order, for ties
    state: AgentState = AgentState.NOT_READY
    since: float = 0.0
    call_id: str | None = None
    lastcall: dict[str, int] = field(default_factory=dict)  # queue ("" if shared) -> time_t


@dataclass(slots=True)
class _Call:
    call_id: str
    queue: str
    priority: int
    caller: str
    channel: str
    queued_at: float
    seq: int
    key: tuple[int, int]
    state: str = "waiting"  # waiting, offered (ringing a member: "pending"), answered
    agent_id: str | None = None
    retry_at: float | None = None  # sleeping after a failed attempt until then
    poll_origin: float = 0.0  # the phase of its one-second re-check loop


class FifoPerQueue:
    """app_queue's routing: ``handle(event) -> list[Decision]``, like ``hotline.acd.core.Acd``."""

    def __init__(self, config: AppQueueConfig | None = None) -> None:
        self.config = config if config is not None else AppQueueConfig()
        self._members: dict[str, _Member] = {}
        self._calls: dict[str, _Call] = {}
        self._queues: dict[str, list[_Call]] = {}  # queue -> callers in queue order
        self._roster: dict[str, list[str]] = {}  # queue -> members in join order
        self._ready: dict[str, dict[str, _Member]] = {}  # queue -> free members
        self._rrpos: dict[str, int] = {}
        self._holdtime: dict[str, float] = {}
        self._wrapping: dict[str, _Member] = {}  # members in wrap-up
        self._sleeping: dict[str, _Call] = {}  # callers in their retry pause
        self._logins = self._seq = 0

    def holdtime_s(self, queue: str) -> float:
        """The queue's running average hold time: what app_queue would announce."""
        return self._holdtime.get(queue, 0.0)

    # -- events in -----------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Decision]:
        """Apply one event; the decisions to carry out. AcdError if it does not fit."""
        at = getattr(event, "at", None)
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise AcdError(f"{type(event).__name__}: 'at' must be a finite number, not {at!r}")
        out: list[Decision] = []
        match event:
            case AgentLoggedIn():
                self._logged_in(event, out)
            case AgentLoggedOut():
                member = self._idle_member(event.agent_id, "log out")
                self._move(member, AgentState.LOGGED_OUT, "logout", event.at, out)
                del self._members[member.agent_id]
                for queue in member.queues:
                    self._roster[queue].remove(member.agent_id)
            case AgentReady():
                member = self._member(event.agent_id)
                if member.state not in (AgentState.NOT_READY, AgentState.WRAP_UP):
                    raise AcdError(f"agent {member.agent_id!r} is {member.state}: cannot be ready")
                self._move(member, AgentState.READY, "ready", event.at, out)
            case AgentNotReady():
                member = self._idle_member(event.agent_id, "go not ready")
                self._move(member, AgentState.NOT_READY, event.reason, event.at, out)
            case CallQueued():
                self._queued(event, out)
            case CallerHungUp():
                self._hung_up(event, out)
            case OfferFailed():
                call, member = self._offered(event.call_id, event.agent_id)
                call.state, call.agent_id = "waiting", None  # keeps its place
                call.retry_at = call.poll_origin = event.at + self.config.retry_s
                self._sleeping[call.call_id] = call
                self._move(member, AgentState.NOT_READY, "ring_no_answer", event.at, out)
            case AgentAnswered():
                call, member = self._offered(event.call_id, event.agent_id)
                self._leave_queue(call)
                call.state = "answered"
                waited = max(0.0, event.at - call.queued_at)
                self._holdtime[call.queue] = app_queue_holdtime(self.holdtime_s(call.queue), waited)
                self._move(member, AgentState.ON_CALL, "answered", event.at, out, call.call_id)
                out.append(CallAnswered(call_id=call.call_id, agent_id=member.agent_id,
                                        waited_s=waited, at=event.at))  # fmt: skip
            case CallEnded():
                self._ended(event, out)
            case Tick():
                self._tick(event.at, out)
            case CallbacksPaused() | CallbacksResumed():
                pass  # app_queue places no callbacks: nothing to pause
            case CallbackAccepted() | CallbackConnected() | CallbackFailed():
                raise AcdError(f"app_queue has no callbacks: {type(event).__name__}")
            case _:
                raise AcdError(f"not an ACD event: {event!r}")
        self._dispatch(event.at, out)
        return out

    def _logged_in(self, e: AgentLoggedIn, out: list[Decision]) -> None:
        if not e.agent_id or e.agent_id in self._members:
            raise AcdError(f"agent {e.agent_id!r} is already logged in (or has no id)")
        queues = tuple(dict.fromkeys(name for name, _ in e.skills))
        self._logins += 1
        member = _Member(e.agent_id, e.seat, queues, self._logins, AgentState.LOGGED_OUT, e.at)
        self._members[e.agent_id] = member
        for queue in queues:
            self._roster.setdefault(queue, []).append(e.agent_id)
        self._move(member, AgentState.NOT_READY, "login", e.at, out)

    def _queued(self, e: CallQueued, out: list[Decision]) -> None:
        if not e.call_id or e.call_id in self._calls:
            raise AcdError(f"call {e.call_id!r} is already queued (or has no id)")
        prio = -e.priority if self.config.queue_prio else 0
        call = _Call(e.call_id, e.skill, e.priority, e.caller, e.channel, e.at, self._seq,
                     (prio, self._seq), poll_origin=e.at)  # fmt: skip
        self._seq += 1
        self._calls[call.call_id] = call
        queue = self._queues.setdefault(call.queue, [])
        index = bisect.bisect(queue, call.key, key=_by_key)
        queue.insert(index, call)
        out.append(CallEstimate(call_id=call.call_id, position=index + 1,
                                ewt_s=self.holdtime_s(call.queue), at=e.at))  # fmt: skip

    def _hung_up(self, e: CallerHungUp, out: list[Decision]) -> None:
        call = self._calls.get(e.call_id)
        if call is None:
            raise AcdError(f"call {e.call_id!r} is not in the queue")
        if call.state == "answered":
            return  # it ends through CallEnded
        if call.state == "offered":
            assert call.agent_id is not None
            out.append(CancelOffer(call_id=call.call_id, agent_id=call.agent_id))
            member = self._members[call.agent_id]
            self._move(member, AgentState.READY, "caller_hung_up", e.at, out)
        self._leave_queue(call)
        del self._calls[call.call_id]
        self._sleeping.pop(call.call_id, None)
        out.append(CallAbandoned(call_id=call.call_id, waited_s=max(0.0, e.at - call.queued_at),
                                 at=e.at))  # fmt: skip

    def _ended(self, e: CallEnded, out: list[Decision]) -> None:
        call = self._calls.get(e.call_id)
        if call is None or call.state != "answered" or call.agent_id != e.agent_id:
            raise AcdError(f"call {e.call_id!r} is not on a call with agent {e.agent_id!r}")
        member = self._members[e.agent_id]
        del self._calls[call.call_id]
        second = math.floor(e.at)  # app_queue keeps lastcall as a time_t
        for queue in ("",) if self.config.shared_lastcall else (call.queue,):
            member.lastcall[queue] = second
        wrapping = self.config.wrapup_s > 0
        state = AgentState.WRAP_UP if wrapping else AgentState.READY
        self._move(member, state, "call_ended", e.at, out)

    def _tick(self, at: float, out: list[Decision]) -> None:
        wrapup = self.config.wrapup_s
        done = sorted(
            (m for m in self._wrapping.values() if at - m.since >= wrapup),
            key=lambda m: (m.since, m.order),
        )
        for member in done:
            self._move(
                member, AgentState.READY, "wrap_up_done", min(at, member.since + wrapup), out
            )
        for call in [c for c in self._sleeping.values() if c.retry_at is None or at >= c.retry_at]:
            call.retry_at = None
            del self._sleeping[call.call_id]

    # -- the race: who rings whom --------------------------------------------------------------
    def _dispatch(self, at: float, out: list[Decision]) -> None:
        """Ring free members until no eligible caller is left (see the module docstring)."""
        while True:
            best: tuple[tuple[float, int, str, int], _Call] | None = None
            for queue, free in self._ready.items():
                if not free:
                    continue
                rank = self._queue_rank(queue)
                for call in self._turns(queue, len(free), at):
                    phase = (call.poll_origin - at) % self.config.recheck_s
                    key = (phase, rank, queue, call.seq)
                    if best is None or key < best[0]:
                        best = (key, call)
            if best is None:
                return
            call = best[1]
            self._ring(call, self._pick(call.queue, at), at, out)

    def _turns(self, queue: str, avl: int, at: float) -> Iterable[_Call]:
        """The callers of ``queue`` whose turn it is and who are awake."""
        idx = 0
        for call in self._queues.get(queue, ()):
            if idx >= avl:
                return
            if call.state != "waiting":
                continue  # pending: ringing a member, not counted
            idx += 1
            if call.retry_at is None or at >= call.retry_at:
                yield call

    def _queue_rank(self, queue: str) -> int:
        order = self.config.queue_order
        return order.index(queue) if queue in order else len(order)

    def _pick(self, queue: str, at: float) -> _Member:
        """The free member of ``queue`` that ``calc_metric`` ranks first."""
        free = self._ready[queue].values()
        if self.config.strategy == "rrmemory":
            roster = self._roster[queue]
            rrpos = self._rrpos.get(queue, 0)
            where = {m.agent_id: roster.index(m.agent_id) for m in free}
            member = min(free, key=lambda m: (where[m.agent_id] < rrpos, where[m.agent_id]))
            self._rrpos[queue] = where[member.agent_id] + 1
            return member
        key = "" if self.config.shared_lastcall else queue

        def metric(m: _Member) -> tuple[int, int, int]:
            last = m.lastcall.get(key)
            return (0, 0, m.order) if last is None else (1, last, m.order)

        return min(free, key=metric)

    def _ring(self, call: _Call, member: _Member, at: float, out: list[Decision]) -> None:
        call.state, call.agent_id = "offered", member.agent_id
        out.append(OfferCall(call_id=call.call_id, agent_id=member.agent_id, seat=member.seat,
                             channel=call.channel, caller=call.caller,
                             ring_timeout_s=self.config.ring_timeout_s))  # fmt: skip
        self._move(member, AgentState.RINGING, "offered", at, out, call.call_id)

    # -- helpers -------------------------------------------------------------------------------
    def _move(
        self,
        member: _Member,
        state: AgentState,
        reason: str,
        at: float,
        out: list[Decision],
        call_id: str | None = None,
    ) -> None:
        if member.state is AgentState.READY:
            for queue in member.queues:
                del self._ready[queue][member.agent_id]
        self._wrapping.pop(member.agent_id, None)
        member.state, member.since, member.call_id = state, at, call_id
        if state is AgentState.READY:
            for queue in member.queues:
                self._ready.setdefault(queue, {})[member.agent_id] = member
        elif state is AgentState.WRAP_UP:
            self._wrapping[member.agent_id] = member
        out.append(AgentStateChanged(agent_id=member.agent_id, state=state, reason=reason, at=at))

    def _leave_queue(self, call: _Call) -> None:
        queue = self._queues[call.queue]
        index = bisect.bisect_left(queue, call.key, key=_by_key)
        assert queue[index] is call
        del queue[index]

    def _member(self, agent_id: str) -> _Member:
        member = self._members.get(agent_id)
        if member is None:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        return member

    def _idle_member(self, agent_id: str, what: str) -> _Member:
        member = self._member(agent_id)
        if member.state not in IDLE:
            raise AcdError(f"agent {agent_id!r} is {member.state}: cannot {what} with a call")
        return member

    def _offered(self, call_id: str, agent_id: str) -> tuple[_Call, _Member]:
        call = self._calls.get(call_id)
        if call is None or call.state != "offered" or call.agent_id != agent_id:
            raise AcdError(f"call {call_id!r} is not ringing agent {agent_id!r}")
        return call, self._members[agent_id]


def _by_key(call: _Call) -> tuple[int, int]:
    return call.key
