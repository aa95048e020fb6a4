"""The ACD (automatic call distributor) as a sans-I/O state machine, after h11.

``Acd.handle(event) -> list[Decision]``: events (acd/events.py) in, decisions out. No clock, no
sockets, no asyncio: time arrives as the ``at`` of each event.

Rules
-----
Agents (``AGENT_TRANSITIONS`` is the whole table; an agent not logged in is ``logged_out`` and
is not kept):

- ``AgentLoggedIn`` -> ``not_ready`` (reason ``login``). Skills are (name, level 1..10) pairs;
  level 1 is the best (as in the roster files: ``zh:1;social:2``).
- ``AgentReady`` from ``not_ready`` or ``wrap_up`` -> ``ready``.
- ``AgentNotReady`` from ``ready``, ``not_ready`` or ``wrap_up`` -> ``not_ready`` (the reason
  given). While ``ringing`` or ``on_call`` it is kept for after the call ("not ready after
  this call"): the state does not change now; when the agent's call ends, or the offer ends
  without an answer, the agent goes to ``not_ready`` with that reason instead of ``wrap_up`` or
  ``ready`` (so no next call comes, whatever ``wrapup_s``). ``AgentReady`` while ``ringing`` or
  ``on_call`` withdraws such a request (and is refused if there is none).
- ``AgentLoggedOut`` from ``ready``, ``not_ready`` or ``wrap_up``; refused with a call.
- Offering a call: ``ready`` -> ``ringing``. ``AgentAnswered`` -> ``on_call``.
  ``OfferFailed`` (ring-no-answer, originate failed) -> ``not_ready`` (``ring_no_answer``), so
  an absent agent is not rung again and again. ``CallerHungUp`` while ringing -> ``ready``.
- Placing a callback (``PlaceCallback``, reason ``callback``): ``ready`` -> ``ringing``: the
  agent is called first, then the citizen. ``CallbackConnected`` -> ``on_call``;
  ``CallbackFailed`` (the citizen's leg failed) -> ``ready``; ``OfferFailed`` (the agent's own
  leg was not answered) -> ``not_ready`` as for any offer.
- ``CallEnded`` -> ``wrap_up`` (``ready`` at once when ``policy.wrapup_s`` is 0); a ``Tick``
  at least ``wrapup_s`` after wrap-up began -> ``ready``, idle since the moment it ended.
- The agent's phone on a call the ACD did not place (a transfer to the seat, a call the agent
  dialled; the adapter sees the seat's device state): ``AgentPhoneBusy`` from ``ready`` or
  ``wrap_up`` -> ``not_ready`` (reason ``other_call``); in ``not_ready`` the reason stays; while
  ``ringing`` or ``on_call`` it is the ACD's own call and is ignored. ``AgentPhoneFree``: an
  agent the ACD set ``not_ready`` for the other call goes to ``wrap_up`` (``ready`` at once
  when ``policy.wrapup_s`` is 0), as after any call; otherwise nothing changes. While the
  phone is busy ``AgentReady`` is refused: an agent on a call is never offered a second one.
- Every change of an agent's state (or not-ready reason) emits ``AgentStateChanged``.

Calls (``CALL_TRANSITIONS``):

- Live calls: ``waiting`` -> ``offered`` -> ``answered``; gone on ``CallerHungUp`` (waiting or
  offered: ``CallAbandoned``; offered also ``CancelOffer``) or ``CallEnded``. ``CallerHungUp``
  of an answered call is ignored: it ends through ``CallEnded``. ``OfferFailed`` puts the call
  back to ``waiting`` with its original queue sequence, so it is ahead of every call of its
  priority queued after it, and it is offered to another agent.
- Accepted callbacks: ``CallbackAccepted`` (waiting only) -> ``callback``: the caller hangs up
  but the call keeps its place (priority and sequence) in the queue. When its turn comes and
  an agent may take it: ``PlaceCallback`` and ``calling``. ``CallbackConnected`` ->
  ``answered`` (it then ends through ``CallEnded`` as any call). ``CallbackFailed`` counts an
  attempt and returns the call to its place, not placed again before ``callback_retry_s``;
  after ``callback_max_attempts`` failed attempts it is dropped with ``CallbackGaveUp``. An
  ``OfferFailed`` of the agent's leg returns it to its place without using an attempt.
  ``CallerHungUp`` of a callback (the first call's channel going away) is ignored.
- Missed calls (漏接回拨): a caller who hangs up (waiting or offered) after waiting at least
  ``missed_callback_after_s`` and whose number is known is listed (``CallAbandoned`` then
  ``MissedCallListed``; state ``missed``) and called back like an accepted callback. The list
  comes after every live call and accepted callback (unless ``missed_callback_priority`` puts
  it in the live queue at that priority): an agent places a missed call only when no live call
  that the agent may take is waiting.
- ``CallbacksPaused`` / ``CallbacksResumed``: while paused (e.g. outside working hours, told by
  the adapter), no callback is placed and no ``OfferCallback`` is made; calls keep their place.
- A caller who calls again (``CallQueued`` with the same non-empty ``caller``) while a callback
  of theirs waits (``callback`` or ``missed``, not one being placed) has it dropped
  (``CallbackCancelled``, reason ``called_again``); the new call takes the place of a dropped
  accepted callback.
- ``CallNeedChanged`` (waiting or offered): the IVR learned more while the caller waited (the
  default flow queues the call as the greeting starts, then hears the caller's sentence). The
  call takes the new skill and priority and keeps its queue sequence and queue time (speaking
  costs no place); an offer already ringing stands (the new need counts if it fails).
- ``CallWithdrawn`` (waiting or offered): the caller left on purpose (an emergency sent on, a
  message chosen): ``CallLeft``, plus ``CancelOffer`` and the agent ``ready`` again if it was
  ringing. Not an abandon: no missed-call list, no rejoin.
- Rejoin: a caller who hangs up while waiting or offered (an abandon) and calls again within
  ``rejoin_within_s`` gets their old queue sequence (their old place); the new call's waits are
  still measured from its own queue time. The ACD remembers the last ``rejoin_memory`` abandons
  (by caller number, in the snapshot); a ``Tick`` forgets those older than the window.

Thresholds (``AcdPolicy``; all off by default; per skill via ``per_skill``). A threshold T is
crossed when the call has waited ``waited >= T``, or, with ``thresholds_use_ewt``, when its
estimated total wait ``waited + EWT >= T``. They are evaluated when the call is queued and on
every ``Tick``; the elapsed-time part also whenever calls are matched. Widening and overflow
are latched (the EWT can fall again, the call stays widened).

- Before ``widen_after_s`` a call goes only to agents at a level <= ``initial_max_level`` of its
  skill (default 10: everyone); after it, to every level.
- After ``overflow_after_s`` (which implies widening), also to agents of the call's
  ``overflow`` skills (e.g. other centres' shared seats, 多援一), after every agent of the
  call's own skill, in the order the overflow skills are listed.
- After ``offer_callback_after_s``: ``OfferCallback`` once (waiting calls, callbacks not paused).
- After ``voicemail_after_s``: ``SendToVoicemail`` and the call leaves the ACD (the adapter's
  later ``CallerHungUp`` for it is refused: not in the ACD). It wins over a callback offer.
- ``announce_every_s`` > 0: ``AnnouncePosition`` when a call has to wait at queue entry, then on
  the first ``Tick`` after every further ``announce_every_s`` seconds of its wait.
- Sticky routing: a call queued with ``preferred_agent`` is offered only to that agent (whatever
  their skills: they handled the caller's ticket) for up to ``sticky_wait_s`` after queue
  entry, then to everyone qualified (the preferred agent first if qualified, also when
  ``sticky_wait_s`` is 0). No wait if that agent is not logged in when the call is queued, logs
  out, or does not answer the offer.

Estimated wait (``acd/ewt.py`` has the formula and why): every call in the queue (waiting,
callback or missed) has a position among the calls that compete for the same agents and an
EWT, from the agents working with its skill and a per-skill running mean of talk + wrap-up
time learned from ``CallEnded``. ``CallEstimate`` is emitted for every queued call, before it
is matched, so the estimate can be compared with the actual wait.

Matching runs after every change that can free an agent or make a call eligible. Calls are
taken in service order (live calls and accepted callbacks: priority, higher first, then queue
sequence, FIFO; then the missed-call list in the same order) and each goes to the ready agent
it may take with, in order: the preferred agent; its own skill (best level, lowest number)
before overflow skills; longest idle; lowest agent_id. So an agent in several skills always
takes, of the calls it may take, the first in service order (priority, then time in the queue)
and never depends on the order events raced in or on dict order. A call that no ready agent
may take does not hold up later calls. An agent has at most one call at a time.

An event that does not fit raises ``AcdError`` and changes nothing: every handler checks all
its preconditions before it changes anything, and what follows the checks cannot fail.
``snapshot()`` / ``restore()`` carry the complete state (queue order, sequence counter, learned
handle times, remembered abandons, pause flag) as plain JSON; of a call, only the fields added
in version 2 that differ from a new call's are written (``CALL_EXTRAS``), so a queue of plain
calls is no bigger than in version 1. ``restore`` also reads version-1 snapshots.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeAlias

from acd import ewt
from acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
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
    CallLeft,
    CallNeedChanged,
    CallQueued,
    CallWithdrawn,
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

SNAPSHOT_VERSION = 2
OTHER_CALL = "other_call"  # the not-ready reason while the phone is on a call not from the ACD
# Estimates of more than 1 / ONE_PASS_SHARE of the calls are worked out in one pass over the
# queue rather than one by one (the same figures either way).
ONE_PASS_SHARE = 4
READABLE_VERSIONS = (1, 2)
MIN_LEVEL, MAX_LEVEL = 1, 10


class AcdError(ValueError):
    """An event that does not fit the current state; the ACD is unchanged."""


# --- policy -----------------------------------------------------------------------------------


def _check_seconds(name: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds{' or None' if optional else ''}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, not {value}")


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, not {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be in {low}..{high or ''}, not {value}")


@dataclass(frozen=True)
class SkillRules:
    """The thresholds of one skill: ``AcdPolicy``'s values, overridden by ``per_skill``."""

    initial_max_level: int = MAX_LEVEL
    widen_after_s: float | None = None
    overflow_after_s: float | None = None
    offer_callback_after_s: float | None = None
    voicemail_after_s: float | None = None
    announce_every_s: float = 0.0
    sticky_wait_s: float = 0.0
    missed_callback_after_s: float | None = None

    def __post_init__(self) -> None:
        _check_int("initial_max_level", self.initial_max_level, MIN_LEVEL, MAX_LEVEL)
        for name in ("widen_after_s", "overflow_after_s", "offer_callback_after_s",
                     "voicemail_after_s", "missed_callback_after_s"):  # fmt: skip
            _check_seconds(name, getattr(self, name), optional=True)
        _check_seconds("announce_every_s", self.announce_every_s, optional=False)
        _check_seconds("sticky_wait_s", self.sticky_wait_s, optional=False)


SKILL_RULES = tuple(f.name for f in fields(SkillRules))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class AcdPolicy:
    """How the ACD routes. Every field added after ``ring_timeout_s`` and ``wrapup_s`` has a
    default that keeps the first version's behaviour (no thresholds, no callbacks, no rejoin).
    """

    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0
    # EWT: the handle-time mean starts at the prior and becomes an EWMA over handle_window calls.
    handle_prior_s: float = 180.0
    handle_window: int = 200
    thresholds_use_ewt: bool = True  # also cross a threshold when waited + EWT reaches it
    # Thresholds, for every skill unless per_skill overrides them (None: off).
    initial_max_level: int = MAX_LEVEL
    widen_after_s: float | None = None
    overflow_after_s: float | None = None
    overflow: Mapping[str, Sequence[str]] = field(default_factory=dict)  # skill -> skills, in order
    offer_callback_after_s: float | None = None
    voicemail_after_s: float | None = None
    announce_every_s: float = 0.0  # 0: no announcements
    sticky_wait_s: float = 0.0
    missed_callback_after_s: float | None = None
    # Callbacks (accepted and missed-call).
    missed_callback_priority: int | None = None  # None: after every live call
    callback_max_attempts: int = 3
    callback_retry_s: float = 60.0  # at least this long between two attempts of one call
    # Rejoin: a caller who hung up and calls again within this time gets their old place.
    rejoin_within_s: float | None = None
    rejoin_memory: int = 1000  # abandons remembered at most
    per_skill: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    _base: SkillRules = field(init=False, repr=False, compare=False, default=SkillRules())
    _by_skill: Mapping[str, SkillRules] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.ring_timeout_s > 0:
            raise ValueError(f"ring_timeout_s must be > 0, not {self.ring_timeout_s}")
        if not self.wrapup_s >= 0:
            raise ValueError(f"wrapup_s must be >= 0, not {self.wrapup_s}")
        _check_seconds("handle_prior_s", self.handle_prior_s, optional=False)
        if not self.handle_prior_s > 0:
            raise ValueError(f"handle_prior_s must be > 0, not {self.handle_prior_s}")
        _check_int("handle_window", self.handle_window, 1)
        _check_int("callback_max_attempts", self.callback_max_attempts, 1)
        _check_seconds("callback_retry_s", self.callback_retry_s, optional=False)
        _check_seconds("rejoin_within_s", self.rejoin_within_s, optional=True)
        _check_int("rejoin_memory", self.rejoin_memory, 1)
        if self.missed_callback_priority is not None:
            _check_int("missed_callback_priority", self.missed_callback_priority, -(2**31))
        overflow: dict[str, tuple[str, ...]] = {}
        for skill, others in self.overflow.items():
            groups = (others,) if isinstance(others, str) else tuple(others)
            if not all(isinstance(s, str) and s for s in (skill, *groups)):
                raise ValueError(f"overflow {skill!r}: {others!r} is not a list of skill names")
            overflow[skill] = groups
        object.__setattr__(self, "overflow", overflow)
        base = SkillRules(**{name: getattr(self, name) for name in SKILL_RULES})
        by_skill: dict[str, SkillRules] = {}
        per_skill: dict[str, dict[str, Any]] = {}
        for skill, override in self.per_skill.items():
            unknown = set(override) - set(SKILL_RULES)
            if not isinstance(skill, str) or unknown:
                raise ValueError(f"per_skill {skill!r}: unknown fields {sorted(unknown)}")
            per_skill[skill] = dict(override)
            by_skill[skill] = replace(base, **override)
        object.__setattr__(self, "per_skill", per_skill)
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_by_skill", by_skill)

    def __hash__(self) -> int:
        return hash(tuple(_freeze(getattr(self, f.name)) for f in fields(self) if f.compare))

    def rules(self, skill: str) -> SkillRules:
        """The thresholds that apply to calls of ``skill``."""
        return self._by_skill.get(skill, self._base)

    def _all_rules(self) -> list[SkillRules]:
        return [self._base, *self._by_skill.values()]

    @property
    def has_route_timers(self) -> bool:
        """Some rule changes which agents may take a call as time passes."""
        return any(
            r.widen_after_s is not None or r.overflow_after_s is not None or r.sticky_wait_s > 0
            for r in self._all_rules()
        )

    @property
    def has_level_timers(self) -> bool:
        """Some skill widens or overflows."""
        return any(
            r.widen_after_s is not None or r.overflow_after_s is not None for r in self._all_rules()
        )

    @property
    def has_prompts(self) -> bool:
        """Some rule speaks to waiting callers (announcements, callback offer, voicemail)."""
        return any(
            r.announce_every_s > 0
            or r.offer_callback_after_s is not None
            or r.voicemail_after_s is not None
            for r in self._all_rules()
        )

    @property
    def has_sticky(self) -> bool:
        return any(r.sticky_wait_s > 0 for r in self._all_rules())

    @classmethod
    def from_config(cls, acd_cfg: Any) -> AcdPolicy:
        """The policy from the ``[acd]`` config section: every field the section has."""
        kwargs = {f.name: getattr(acd_cfg, f.name) for f in fields(cls)
                  if f.init and hasattr(acd_cfg, f.name)}  # fmt: skip
        for name in ("ring_timeout_s", "wrapup_s"):
            if name in kwargs:
                kwargs[name] = float(kwargs[name])
        return cls(**kwargs)


class CallState(enum.StrEnum):
    WAITING = "waiting"  # a live caller in the queue
    OFFERED = "offered"  # ringing an agent
    ANSWERED = "answered"  # talking to an agent
    CALLBACK = "callback"  # the caller accepted a callback and hung up; keeps its place
    MISSED = "missed"  # on the missed-call list (漏接回拨)
    CALLING = "calling"  # a callback being placed: agent first, then the citizen


QUEUED = frozenset({CallState.WAITING, CallState.CALLBACK, CallState.MISSED})
BUSY = frozenset({AgentState.RINGING, AgentState.ON_CALL})
CALLBACKS = frozenset({CallState.CALLBACK, CallState.MISSED, CallState.CALLING})
WITH_AGENT = frozenset({CallState.OFFERED, CallState.CALLING, CallState.ANSWERED})
WORKING = frozenset({AgentState.READY, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})


# --- transition tables ------------------------------------------------------------------------

# Transitions the core makes on its own, named like events in the tables.
OFFER = "offer"
PLACE = "place_callback"
VOICEMAIL = "voicemail"
CALLED_AGAIN = "called_again"
Trigger: TypeAlias = type[Event] | str

A = AgentState
AGENT_TRANSITIONS: dict[tuple[AgentState, Trigger], AgentState] = {
    (A.LOGGED_OUT, AgentLoggedIn): A.NOT_READY,
    (A.NOT_READY, AgentReady): A.READY,
    (A.WRAP_UP, AgentReady): A.READY,
    (A.READY, AgentNotReady): A.NOT_READY,
    (A.NOT_READY, AgentNotReady): A.NOT_READY,
    (A.WRAP_UP, AgentNotReady): A.NOT_READY,
    (A.READY, AgentLoggedOut): A.LOGGED_OUT,
    (A.NOT_READY, AgentLoggedOut): A.LOGGED_OUT,
    (A.WRAP_UP, AgentLoggedOut): A.LOGGED_OUT,
    (A.READY, OFFER): A.RINGING,
    (A.READY, PLACE): A.RINGING,
    (A.RINGING, OfferFailed): A.NOT_READY,
    (A.RINGING, CallerHungUp): A.READY,
    (A.RINGING, CallWithdrawn): A.READY,
    (A.RINGING, AgentAnswered): A.ON_CALL,
    (A.RINGING, CallbackConnected): A.ON_CALL,
    (A.RINGING, CallbackFailed): A.READY,
    (A.ON_CALL, CallEnded): A.WRAP_UP,  # READY at once when policy.wrapup_s == 0
    (A.WRAP_UP, Tick): A.READY,
    (A.READY, AgentPhoneBusy): A.NOT_READY,  # reason other_call
    (A.WRAP_UP, AgentPhoneBusy): A.NOT_READY,  # reason other_call
    (A.NOT_READY, AgentPhoneBusy): A.NOT_READY,  # the reason stays
    (A.RINGING, AgentNotReady): A.RINGING,  # kept for after the call
    (A.ON_CALL, AgentNotReady): A.ON_CALL,  # kept for after the call
    (A.RINGING, AgentReady): A.RINGING,  # withdraws "not ready after this call"
    (A.ON_CALL, AgentReady): A.ON_CALL,  # withdraws "not ready after this call"
    (A.RINGING, AgentPhoneBusy): A.RINGING,  # ignored: the ACD's own offer
    (A.ON_CALL, AgentPhoneBusy): A.ON_CALL,  # ignored: the ACD's own call
    (A.NOT_READY, AgentPhoneFree): A.NOT_READY,  # WRAP_UP if the reason was other_call
    (A.READY, AgentPhoneFree): A.READY,
    (A.WRAP_UP, AgentPhoneFree): A.WRAP_UP,
    (A.RINGING, AgentPhoneFree): A.RINGING,
    (A.ON_CALL, AgentPhoneFree): A.ON_CALL,
}
del A

C = CallState
# None: the call is not (or no longer) in the ACD.
CALL_TRANSITIONS: dict[tuple[CallState | None, Trigger], CallState | None] = {
    (None, CallQueued): C.WAITING,
    (C.WAITING, OFFER): C.OFFERED,
    (C.WAITING, CallerHungUp): None,  # MISSED when it goes on the missed-call list
    (C.WAITING, CallbackAccepted): C.CALLBACK,
    (C.WAITING, VOICEMAIL): None,
    (C.WAITING, CallNeedChanged): C.WAITING,
    (C.WAITING, CallWithdrawn): None,
    (C.OFFERED, CallNeedChanged): C.OFFERED,  # the ringing offer stands
    (C.OFFERED, CallWithdrawn): None,
    (C.OFFERED, OfferFailed): C.WAITING,
    (C.OFFERED, AgentAnswered): C.ANSWERED,
    (C.OFFERED, CallerHungUp): None,  # MISSED when it goes on the missed-call list
    (C.ANSWERED, CallerHungUp): C.ANSWERED,  # ignored: the call ends through CallEnded
    (C.ANSWERED, CallEnded): None,
    (C.CALLBACK, PLACE): C.CALLING,
    (C.CALLBACK, CallerHungUp): C.CALLBACK,  # ignored: the caller hung up on purpose
    (C.CALLBACK, CALLED_AGAIN): None,
    (C.MISSED, PLACE): C.CALLING,
    (C.MISSED, CallerHungUp): C.MISSED,  # ignored: that is how it got on the list
    (C.MISSED, CALLED_AGAIN): None,
    (C.CALLING, CallbackConnected): C.ANSWERED,
    (C.CALLING, CallbackFailed): C.CALLBACK,  # MISSED for a missed call; None after the last
    (C.CALLING, OfferFailed): C.CALLBACK,  # the agent's leg failed: MISSED for a missed call
    (C.CALLING, CallerHungUp): C.CALLING,  # ignored: the first call's channel going away
}
del C


def _name(trigger: Trigger) -> str:
    return trigger if isinstance(trigger, str) else trigger.__name__


def _allowed_from(table: Mapping[tuple[Any, Trigger], Any], trigger: Trigger) -> str:
    states = [str(state) for state, t in table if t == trigger]
    return " or ".join(states) or "no state"


# --- state records and the views served as JSON -----------------------------------------------


@dataclass(slots=True)
class _Agent:
    agent_id: str
    seat: str
    skills: tuple[tuple[str, int], ...]
    state: AgentState
    reason: str
    since: float  # when the current state began
    idle_since: float  # when the agent last became ready: "longest idle" goes first
    call_id: str | None = None  # while ringing or on_call
    free_at: float = 0.0  # when the agent is expected to be free (EWT): set on every move
    names: tuple[str, ...] = ()  # the skill names, derived from skills
    phone_busy: bool = False  # on a call the ACD did not place (AgentPhoneBusy)
    after_call: str | None = None  # not ready after this call, with this reason

    def level(self, skill: str) -> int:
        return next((level for name, level in self.skills if name == skill), 0)


@dataclass(slots=True)
class _Call:
    call_id: str
    skill: str
    priority: int
    caller: str
    channel: str
    queued_at: float
    seq: int  # queue order within a priority; kept when an offer fails, reused on rejoin
    state: CallState
    agent_id: str | None = None  # while offered, calling or answered
    preferred_agent: str | None = None
    number: str = ""  # where a callback is placed
    missed: bool = False  # came from the missed-call list
    attempts: int = 0  # failed callback attempts
    retry_at: float | None = None  # no callback attempt before
    widened: bool = False
    overflowed: bool = False
    sticky_over: bool = False
    callback_offered: bool = False
    announced_at: float | None = None  # the last announcement (its slot on the cadence)
    key: tuple[int, int, int] = (0, 0, 0)  # service order, derived (Acd._key)


@dataclass(slots=True)
class _Abandon:
    call_id: str
    seq: int
    at: float


@dataclass(frozen=True, slots=True)
class WaitingCallView:
    call_id: str
    skill: str
    priority: int
    caller: str
    channel: str
    queued_at: float
    state: CallState
    agent_id: str | None
    # In the queue (waiting, callback, missed): 1 + competing calls ahead, and the EWT (None:
    # no agent works with the skill). 0 and 0.0 for a call that has an agent (offered, calling).
    position: int = 0
    ewt_s: float | None = 0.0


@dataclass(frozen=True, slots=True)
class AgentView:
    agent_id: str
    seat: str
    skills: tuple[tuple[str, int], ...]
    state: AgentState
    reason: str
    since: float
    call_id: str | None
    after_call: str | None = None  # not ready after this call, with this reason


def _agent_view(a: _Agent) -> AgentView:
    return AgentView(
        a.agent_id, a.seat, a.skills, a.state, a.reason, a.since, a.call_id, a.after_call
    )


def _waited(at: float, queued_at: float) -> float:
    # Event times come from different clocks (AMI, the engine); never report a negative wait.
    return max(0.0, at - queued_at)


def _check_skills(agent_id: str, skills: Any) -> None:
    seen: set[str] = set()
    for pair in skills:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise AcdError(f"agent {agent_id!r}: skill {pair!r} is not a (name, level) pair")
        name, level = pair
        if not isinstance(name, str) or not name:
            raise AcdError(f"agent {agent_id!r}: skill name {name!r} is not a non-empty string")
        if isinstance(level, bool) or not isinstance(level, int):
            raise AcdError(f"agent {agent_id!r}: skill {name!r} level {level!r} is not an int")
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise AcdError(
                f"agent {agent_id!r}: skill {name!r} level {level} is outside "
                f"{MIN_LEVEL}..{MAX_LEVEL}"
            )
        if name in seen:
            raise AcdError(f"agent {agent_id!r}: skill {name!r} is given twice")
        seen.add(name)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


Rank: TypeAlias = tuple[int, int, float, str]
Estimates: TypeAlias = dict[str, tuple[int, float | None]]


# --- the machine ------------------------------------------------------------------------------


class _Pool:
    """Working agents summed per skill, for the EWT (derived state, never in the snapshot)."""

    __slots__ = ("busy", "ready_n", "shared", "staffed", "wrap")

    def __init__(self) -> None:
        self.staffed: dict[str, int] = {}  # skill -> working agents with it
        self.ready_n: dict[str, int] = {}  # skill -> ready agents with it
        self.busy: dict[str, dict[str, float]] = {}  # skill -> ringing/on-call agent -> free_at
        self.wrap: dict[str, dict[str, float]] = {}  # skill -> agent in wrap-up -> free_at
        self.shared: dict[str, dict[str, int]] = {}  # skill -> other skill -> agents with both

    def update(self, agent: _Agent, names: tuple[str, ...], *, add: bool) -> None:
        state, step = agent.state, 1 if add else -1
        for skill in names:
            _bump(self.staffed, skill, step)
            if state is AgentState.READY:
                _bump(self.ready_n, skill, step)
            else:
                group = self.wrap if state is AgentState.WRAP_UP else self.busy
                until = group.setdefault(skill, {})
                if add:
                    until[agent.agent_id] = agent.free_at
                else:
                    del until[agent.agent_id]
                    if not until:
                        del group[skill]
            if len(names) > 1:
                row = self.shared.setdefault(skill, {})
                for other in names:
                    if other != skill:
                        _bump(row, other, step)
                if not row:
                    del self.shared[skill]

    def next_free_s(self, skill: str, at: float, wrapup_s: float) -> float:
        """The shortest expected remaining busy time among the skill's working agents."""
        if self.ready_n.get(skill):
            return 0.0
        best = math.inf
        busy = self.busy.get(skill)
        if busy:  # on a call past its expected end: at least the wrap-up is still to come
            best = max(min(busy.values()) - at, wrapup_s)
        wrap = self.wrap.get(skill)
        if wrap:
            best = min(best, max(min(wrap.values()) - at, 0.0))
        return best if math.isfinite(best) else 0.0

    def staffing(self, at: float, skills: Iterable[str], wrapup_s: float) -> ewt.Staffing:
        next_free = {skill: self.next_free_s(skill, at, wrapup_s) for skill in skills}
        return ewt.Staffing(self.staffed, next_free, self.shared)


class Acd:
    def __init__(self, policy: AcdPolicy | None = None) -> None:
        self._policy = policy if policy is not None else AcdPolicy()
        self._agents: dict[str, _Agent] = {}
        self._calls: dict[str, _Call] = {}
        self._next_seq = 0
        self._paused = False  # callbacks paused
        self._handle: dict[str, tuple[float, int]] = {}  # skill -> (mean handle s, samples)
        self._abandons: dict[str, _Abandon] = {}  # caller -> last abandon, oldest first
        # Derived from the agents, kept up to date by _move (rebuilt by restore), so that an
        # estimate costs O(agents of one skill) at most, not O(all agents). ``_all``: every
        # skill of every working agent; ``_core``: only the skills an agent has at a level a
        # call may go to before it is widened (the same pool when no skill is restricted).
        self._all = _Pool()
        restricted = any(r.initial_max_level < MAX_LEVEL for r in self._policy._all_rules())
        self._core = _Pool() if restricted else self._all
        self._ready_agents: dict[str, _Agent] = {}  # ready agents
        self._callback_calls: set[str] = set()  # calls in callback, missed or calling
        self._order: list[_Call] = []  # every call, in service order (by call.key)
        # skill -> keys of its calls in the queue (waiting, callback, missed), sorted: the
        # competing calls ahead of a call are counted by bisection, not by walking the queue.
        self._queued_keys: dict[str, list[tuple[int, int, int]]] = {}
        self._queue: list[_Call] = []  # the calls in the queue, in service order
        self._wrapping: dict[str, _Agent] = {}  # agents in wrap-up
        # Timers, derived (rebuilt by restore through _add): for each queued call, the earliest
        # time a threshold, the sticky wait, a retry or a prompt may fire for it, in a heap
        # (lazily deleted: an entry is live while ``_armed`` holds its time), so that a Tick
        # looks only at the calls that are due. Calls whose thresholds may also be crossed by
        # their EWT (which moves with the staffing, not with the clock) are watched on every
        # Tick instead (``_watched``): only those, not the whole queue, are estimated.
        self._timers: list[tuple[float, int, str]] = []
        self._armed: dict[str, float] = {}  # call_id -> time of its live heap entry
        self._watched: set[str] = set()
        self._timer_seq = itertools.count()

    @property
    def policy(self) -> AcdPolicy:
        return self._policy

    @property
    def callbacks_paused(self) -> bool:
        return self._paused

    def mean_handle_s(self, skill: str) -> float:
        """The learned mean handle time (talk + wrap-up) of ``skill``, or the prior."""
        learned = self._handle.get(skill)
        return self._policy.handle_prior_s if learned is None else learned[0]

    # -- events in -----------------------------------------------------------------------------
    def handle(self, event: Event) -> list[Decision]:
        """Apply one event; the decisions to carry out, in order. AcdError: nothing changed."""
        at = getattr(event, "at", None)
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise AcdError(f"{type(event).__name__}: 'at' must be a finite number, not {at!r}")
        return self._dispatch(event)

    def _dispatch(self, event: Event) -> list[Decision]:
        match event:
            case AgentLoggedIn():
                return self._logged_in(event)
            case AgentLoggedOut():
                return self._logged_out(event)
            case AgentReady():
                return self._ready(event)
            case AgentNotReady():
                return self._not_ready(event)
            case CallQueued():
                return self._queued(event)
            case CallerHungUp():
                return self._caller_hung_up(event)
            case OfferFailed():
                return self._offer_failed(event)
            case AgentAnswered():
                return self._answered(event)
            case CallEnded():
                return self._ended(event)
            case Tick():
                return self._tick(event)
            case CallbackAccepted():
                return self._callback_accepted(event)
            case CallbackConnected():
                return self._callback_connected(event)
            case CallbackFailed():
                return self._callback_failed(event)
            case CallbacksPaused():
                return self._callbacks_paused(event)
            case CallbacksResumed():
                return self._callbacks_resumed(event)
            case CallNeedChanged():
                return self._need_changed(event)
            case CallWithdrawn():
                return self._withdrawn(event)
            case AgentPhoneBusy():
                return self._phone_busy(event)
            case AgentPhoneFree():
                return self._phone_free(event)
        raise AcdError(f"not an ACD event: {event!r}")

    def _logged_in(self, e: AgentLoggedIn) -> list[Decision]:
        if not _is_name(e.agent_id):
            raise AcdError(f"agent id {e.agent_id!r} is not a non-empty string")
        if e.agent_id in self._agents:
            current = self._agents[e.agent_id].state
            raise AcdError(f"agent {e.agent_id!r} is already logged in ({current})")
        _check_skills(e.agent_id, e.skills)
        state = self._target(AgentState.LOGGED_OUT, AgentLoggedIn, e.agent_id)
        agent = _Agent(e.agent_id, e.seat, tuple(e.skills), AgentState.LOGGED_OUT, "", e.at, e.at)
        agent.names = tuple(name for name, _ in agent.skills)
        self._agents[e.agent_id] = agent
        out: list[Decision] = []
        self._move(agent, state, "login", e.at, out)
        return out

    def _logged_out(self, e: AgentLoggedOut) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentLoggedOut, e.agent_id)
        out: list[Decision] = []
        self._move(agent, state, "logout", e.at, out)
        del self._agents[e.agent_id]
        if self._policy.has_sticky:  # calls waiting for this agent go to others now
            for call in self._calls.values():
                if call.preferred_agent == agent.agent_id:
                    call.sticky_over = True
            self._match(e.at, out)
        return out

    def _ready(self, e: AgentReady) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentReady, e.agent_id)
        if agent.phone_busy:
            raise AcdError(f"agent {e.agent_id!r} is on another call: ready when it ends")
        out: list[Decision] = []
        if state in BUSY:
            if agent.after_call is None:
                raise AcdError(f"agent {e.agent_id!r} is {agent.state}: ready after the call")
            agent.after_call = None  # the agent changed their mind: wrap-up, then ready
        else:
            self._move(agent, state, "ready", e.at, out)
        self._match(e.at, out)  # after any AgentReady the queue is matched as of now
        return out

    def _not_ready(self, e: AgentNotReady) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentNotReady, e.agent_id)
        if state in BUSY:
            agent.after_call = e.reason  # the call goes on; _move applies it when it ends
            return []
        out: list[Decision] = []
        self._move(agent, state, e.reason, e.at, out)
        return out  # an agent leaving ready frees nothing: no matching

    def _phone_busy(self, e: AgentPhoneBusy) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentPhoneBusy, e.agent_id)
        out: list[Decision] = []
        if agent.state in BUSY:
            return out  # the ACD's own call: the phone is busy with it
        agent.phone_busy = True
        if state is not agent.state:
            self._move(agent, state, OTHER_CALL, e.at, out)
        return out  # an agent leaving ready frees nothing: no matching

    def _phone_free(self, e: AgentPhoneFree) -> list[Decision]:
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, AgentPhoneFree, e.agent_id)
        agent.phone_busy = False
        out: list[Decision] = []
        if state is AgentState.NOT_READY and agent.reason == OTHER_CALL:
            after = AgentState.WRAP_UP if self._policy.wrapup_s > 0 else AgentState.READY
            self._move(agent, after, "call_ended", e.at, out)
            self._match(e.at, out)
        return out

    def _queued(self, e: CallQueued) -> list[Decision]:
        if not _is_name(e.call_id):
            raise AcdError(f"call id {e.call_id!r} is not a non-empty string")
        if e.call_id in self._calls:
            known = self._calls[e.call_id]
            raise AcdError(f"call {e.call_id!r} is already in the ACD ({known.state})")
        if isinstance(e.priority, bool) or not isinstance(e.priority, int):
            raise AcdError(f"call {e.call_id!r}: priority {e.priority!r} is not an int")
        if e.preferred_agent is not None and not _is_name(e.preferred_agent):
            raise AcdError(
                f"call {e.call_id!r}: preferred agent {e.preferred_agent!r} is not a name"
            )
        state = self._call_target(None, CallQueued, e.call_id)
        assert state is not None
        at, out = e.at, list[Decision]()
        place = self._old_place(e, out) if isinstance(e.caller, str) and e.caller else None
        seq = self._next_seq if place is None else place
        if place is None:
            self._next_seq += 1
        call = _Call(e.call_id, e.skill, e.priority, e.caller, e.channel, at, seq, state)
        call.preferred_agent = e.preferred_agent
        rules = self._policy.rules(e.skill)
        # No wait for an agent who is not there (or when there is no wait at all).
        call.sticky_over = e.preferred_agent is not None and (
            rules.sticky_wait_s <= 0 or e.preferred_agent not in self._agents
        )
        self._add(call)
        position, ewt_s = self._estimate_new(call, at)
        if self._latch(call, at, ewt_s) and self._core is not self._all:
            position, ewt_s = self._estimate_new(call, at)  # widened: more agents
        out.append(CallEstimate(call_id=call.call_id, position=position, ewt_s=ewt_s, at=at))
        self._match(at, out)
        if call.state is CallState.WAITING:
            self._speak(call, at, out, (position, ewt_s), entry=True)
            if call.call_id in self._calls:
                self._arm(call)  # latched, announced, offered: its timer moves on
        return out

    def _old_place(self, e: CallQueued, out: list[Decision]) -> int | None:
        """Drop the caller's pending callbacks; the queue sequence the new call keeps, if any."""
        place: int | None = None
        pending = sorted(
            (c for c in map(self._calls.__getitem__, self._callback_calls)
             if c.caller == e.caller and c.state in (CallState.CALLBACK, CallState.MISSED)),
            key=lambda c: c.seq,
        )  # fmt: skip
        for old in pending:
            self._call_target(old.state, CALLED_AGAIN, old.call_id)
            if old.state is CallState.CALLBACK and place is None:
                place = old.seq  # an accepted callback keeps its place
            self._drop(old)
            out.append(CallbackCancelled(call_id=old.call_id, reason="called_again", at=e.at))
        window = self._policy.rejoin_within_s
        abandon = self._abandons.get(e.caller)
        if abandon is not None and window is not None and e.at - abandon.at <= window:
            del self._abandons[e.caller]
            in_use = any(c.seq == abandon.seq for c in self._calls.values())
            if not in_use and (place is None or abandon.seq < place):
                place = abandon.seq
        return place

    def _caller_hung_up(self, e: CallerHungUp) -> list[Decision]:
        call = self._call(e.call_id)
        after = self._call_target(call.state, CallerHungUp, e.call_id)
        if after is not None:
            return []  # answered, or a callback: the caller's first channel going away
        out: list[Decision] = []
        waited = _waited(e.at, call.queued_at)
        after_s = self._policy.rules(call.skill).missed_callback_after_s
        listed = after_s is not None and waited >= after_s and _is_name(call.caller)
        if call.state is CallState.OFFERED:
            assert call.agent_id is not None
            agent = self._agents[call.agent_id]
            state = self._target(agent.state, CallerHungUp, agent.agent_id)
            out.append(CancelOffer(call_id=call.call_id, agent_id=agent.agent_id))
            self._move(agent, state, "caller_hung_up", e.at, out)
        self._remember_abandon(call, e.at)
        out.append(CallAbandoned(call_id=call.call_id, waited_s=waited, at=e.at))
        if listed:
            self._drop(call)  # a new place: on the missed-call list
            call.state, call.agent_id, call.missed, call.number = (
                CallState.MISSED, None, True, call.caller
            )  # fmt: skip
            self._add(call)
            listing = MissedCallListed(
                call_id=call.call_id, number=call.number, waited_s=waited, at=e.at
            )
            out.append(listing)
        else:
            self._drop(call)
        self._match(e.at, out)
        return out

    def _need_changed(self, e: CallNeedChanged) -> list[Decision]:
        call = self._call(e.call_id)
        if not _is_name(e.skill):
            raise AcdError(f"call {e.call_id!r}: skill {e.skill!r} is not a name")
        if isinstance(e.priority, bool) or not isinstance(e.priority, int):
            raise AcdError(f"call {e.call_id!r}: priority {e.priority!r} is not an int")
        state = self._call_target(call.state, CallNeedChanged, e.call_id)
        assert state is call.state
        # Out and back in: the service order and the per-skill queue depend on both fields.
        self._drop(call)
        call.skill, call.priority = e.skill, e.priority
        self._add(call)
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    def _withdrawn(self, e: CallWithdrawn) -> list[Decision]:
        call = self._call(e.call_id)
        self._call_target(call.state, CallWithdrawn, e.call_id)
        out: list[Decision] = []
        if call.state is CallState.OFFERED:
            assert call.agent_id is not None
            agent = self._agents[call.agent_id]
            state = self._target(agent.state, CallWithdrawn, agent.agent_id)
            out.append(CancelOffer(call_id=call.call_id, agent_id=agent.agent_id))
            self._move(agent, state, "caller_left", e.at, out)
        self._drop(call)
        waited = _waited(e.at, call.queued_at)
        out.append(CallLeft(call_id=call.call_id, reason=e.reason, waited_s=waited, at=e.at))
        self._match(e.at, out)
        return out

    def _remember_abandon(self, call: _Call, at: float) -> None:
        if self._policy.rejoin_within_s is None or not _is_name(call.caller):
            return
        self._abandons.pop(call.caller, None)  # re-inserted last: the dict stays oldest first
        self._abandons[call.caller] = _Abandon(call.call_id, call.seq, at)
        while len(self._abandons) > self._policy.rejoin_memory:
            del self._abandons[next(iter(self._abandons))]

    def _offer_failed(self, e: OfferFailed) -> list[Decision]:
        call, agent = self._ringing_pair(e.call_id, e.agent_id, OfferFailed)
        call_state = self._call_target(call.state, OfferFailed, call.call_id)
        agent_state = self._target(agent.state, OfferFailed, agent.agent_id)
        assert call_state is not None
        if call.state is CallState.CALLING:
            call_state = self._home(call)  # no attempt used: the citizen was not called
        call.state, call.agent_id = call_state, None  # keeps its seq: first again in its band
        self._enqueue(call)
        if call.preferred_agent == agent.agent_id:
            call.sticky_over = True  # the preferred agent did not answer: no more waiting
        out: list[Decision] = []
        self._move(agent, agent_state, "ring_no_answer", e.at, out)
        self._match(e.at, out)
        return out

    def _answered(self, e: AgentAnswered) -> list[Decision]:
        call, agent = self._offered_pair(e.call_id, e.agent_id, AgentAnswered)
        call_state = self._call_target(call.state, AgentAnswered, call.call_id)
        agent_state = self._target(agent.state, AgentAnswered, agent.agent_id)
        assert call_state is not None
        call.state = call_state
        out: list[Decision] = []
        self._move(agent, agent_state, "answered", e.at, out, call_id=call.call_id)
        out.append(
            CallAnswered(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                waited_s=_waited(e.at, call.queued_at),
                at=e.at,
            )
        )
        return out

    def _ended(self, e: CallEnded) -> list[Decision]:
        call = self._call(e.call_id)
        if call.agent_id != e.agent_id:
            raise AcdError(
                f"call {e.call_id!r} is not with agent {e.agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        self._call_target(call.state, CallEnded, call.call_id)
        agent = self._agent(e.agent_id)
        state = self._target(agent.state, CallEnded, agent.agent_id)
        if self._policy.wrapup_s <= 0:
            state = AgentState.READY
        # Learn the skill's handle time: the talk just ended plus the configured wrap-up.
        talk = max(0.0, e.at - agent.since)  # on_call since the answer
        mean, samples = self._handle.get(call.skill, (self._policy.handle_prior_s, 0))
        self._handle[call.skill] = ewt.running_mean(
            mean, samples, talk + self._policy.wrapup_s, self._policy.handle_window
        )
        self._drop(call)
        out: list[Decision] = []
        self._move(agent, state, "call_ended", e.at, out)
        self._match(e.at, out)
        return out

    def _tick(self, e: Tick) -> list[Decision]:
        at, wrapup = e.at, self._policy.wrapup_s
        done = sorted(
            (a for a in self._wrapping.values() if at - a.since >= wrapup),
            key=lambda a: (a.since, a.agent_id),
        )  # fmt: skip
        out: list[Decision] = []
        for agent in done:
            state = self._target(agent.state, Tick, agent.agent_id)
            # Idle from when wrap-up really ended, not from the tick that noticed it, so the
            # agent who finished first is offered first whatever the tick interval.
            self._move(agent, state, "wrap_up_done", min(at, agent.since + wrapup), out)
        self._forget_abandons(at)
        changed = bool(done)
        due = self._due(at)  # the calls whose timers are due, or watched: no other can change
        timers = self._policy.has_route_timers
        retries = any(self._calls[c].retry_at is not None for c in self._callback_calls)
        if timers or retries:
            estimates: Estimates = {}
            if self._policy.thresholds_use_ewt and self._policy.has_level_timers:
                wanted = [c for c in due if self._level_ewt_wanted(c, at)]
                estimates = self._estimates_of(wanted, at)
            for call in due:
                if timers or call.call_id in self._callback_calls:
                    changed |= self._latch(call, at, estimates.get(call.call_id, (0, None))[1])
        if changed:
            self._match(at, out)
        if self._policy.has_prompts:
            self._speak_to_waiting(at, out, due)
        for call in due:
            if call.call_id in self._calls and call.state in QUEUED:
                self._arm(call)
        return out

    def _forget_abandons(self, at: float) -> None:
        window = self._policy.rejoin_within_s
        if window is None:
            self._abandons.clear()
            return
        for caller in [c for c, a in self._abandons.items() if at - a.at > window]:
            del self._abandons[caller]

    def _callback_accepted(self, e: CallbackAccepted) -> list[Decision]:
        call = self._call(e.call_id)
        state = self._call_target(call.state, CallbackAccepted, call.call_id)
        if not _is_name(e.number):
            raise AcdError(f"call {e.call_id!r}: callback number {e.number!r} is not a string")
        assert state is not None
        call.state, call.number = state, e.number
        self._callback_calls.add(call.call_id)
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    def _callback_connected(self, e: CallbackConnected) -> list[Decision]:
        call, agent = self._ringing_pair(e.call_id, e.agent_id, CallbackConnected)
        call_state = self._call_target(call.state, CallbackConnected, call.call_id)
        agent_state = self._target(agent.state, CallbackConnected, agent.agent_id)
        assert call_state is not None
        call.state = call_state
        self._callback_calls.discard(call.call_id)
        out: list[Decision] = []
        self._move(agent, agent_state, "callback_connected", e.at, out, call_id=call.call_id)
        return out

    def _callback_failed(self, e: CallbackFailed) -> list[Decision]:
        call, agent = self._ringing_pair(e.call_id, e.agent_id, CallbackFailed)
        self._call_target(call.state, CallbackFailed, call.call_id)
        agent_state = self._target(agent.state, CallbackFailed, agent.agent_id)
        out: list[Decision] = []
        self._move(agent, agent_state, "callback_failed", e.at, out)
        call.attempts += 1
        if call.attempts >= self._policy.callback_max_attempts:
            self._drop(call)
            out.append(CallbackGaveUp(call_id=call.call_id, attempts=call.attempts, at=e.at))
        else:
            call.state, call.agent_id = self._home(call), None
            retry_s = self._policy.callback_retry_s
            call.retry_at = e.at + retry_s if retry_s > 0 else None
            self._enqueue(call)
        self._match(e.at, out)
        return out

    def _callbacks_paused(self, e: CallbacksPaused) -> list[Decision]:
        if self._paused:
            raise AcdError("callbacks are already paused")
        self._paused = True
        return []

    def _callbacks_resumed(self, e: CallbacksResumed) -> list[Decision]:
        if not self._paused:
            raise AcdError("callbacks are not paused")
        self._paused = False
        out: list[Decision] = []
        self._match(e.at, out)
        return out

    # -- lookups that raise AcdError -------------------------------------------------------------
    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise AcdError(f"agent {agent_id!r} is not logged in")
        return agent

    def _call(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise AcdError(f"call {call_id!r} is not in the ACD")
        return call

    def _offered_pair(self, call_id: str, agent_id: str, trigger: Trigger) -> tuple[_Call, _Agent]:
        call = self._call(call_id)
        if call.state is not CallState.OFFERED or call.agent_id != agent_id:
            raise AcdError(
                f"{_name(trigger)}: call {call_id!r} is not ringing agent {agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        return call, self._agent(agent_id)

    def _ringing_pair(self, call_id: str, agent_id: str, trigger: Trigger) -> tuple[_Call, _Agent]:
        """The call and the agent it rings: offered, or a callback being placed."""
        call = self._call(call_id)
        states = {st for st, t in CALL_TRANSITIONS if t == trigger}
        if call.state not in states or call.agent_id != agent_id:
            raise AcdError(
                f"{_name(trigger)}: call {call_id!r} is not ringing agent {agent_id!r} "
                f"(it is {call.state}, agent {call.agent_id!r})"
            )
        return call, self._agent(agent_id)

    @staticmethod
    def _target(state: AgentState, trigger: Trigger, agent_id: str) -> AgentState:
        target = AGENT_TRANSITIONS.get((state, trigger))
        if target is None:
            raise AcdError(
                f"agent {agent_id!r} is {state}: {_name(trigger)} is allowed only when "
                f"{_allowed_from(AGENT_TRANSITIONS, trigger)}"
            )
        return target

    @staticmethod
    def _call_target(state: CallState | None, trigger: Trigger, call_id: str) -> CallState | None:
        key = (state, trigger)
        if key not in CALL_TRANSITIONS:
            raise AcdError(
                f"call {call_id!r} is {state or 'unknown'}: {_name(trigger)} is allowed only "
                f"when {_allowed_from(CALL_TRANSITIONS, trigger)}"
            )
        return CALL_TRANSITIONS[key]

    @staticmethod
    def _home(call: _Call) -> CallState:
        """Where a callback goes back to after an attempt that did not connect."""
        return CallState.MISSED if call.missed else CallState.CALLBACK

    # -- changes that cannot fail --------------------------------------------------------------
    def _move(
        self,
        agent: _Agent,
        state: AgentState,
        reason: str,
        at: float,
        out: list[Decision],
        *,
        call_id: str | None = None,
    ) -> None:
        if agent.state in BUSY and state not in BUSY:
            if agent.after_call is not None and state in (AgentState.READY, AgentState.WRAP_UP):
                state, reason = AgentState.NOT_READY, agent.after_call  # asked during the call
            agent.after_call = None
        self._index(agent, add=False)
        agent.state, agent.reason, agent.since, agent.call_id = state, reason, at, call_id
        if state is AgentState.READY:
            agent.idle_since = at
        agent.free_at = self._expected_free_at(agent)
        self._index(agent, add=True)
        out.append(AgentStateChanged(agent_id=agent.agent_id, state=state, reason=reason, at=at))

    def _crossed(self, threshold: float | None, waited: float, ewt_s: float | None) -> bool:
        if threshold is None:
            return False
        if waited >= threshold:
            return True
        return self._policy.thresholds_use_ewt and ewt_s is not None and waited + ewt_s >= threshold

    def _latch(self, call: _Call, at: float, ewt_s: float | None) -> bool:
        """Latch the thresholds a queued call has crossed; True if it may go to more agents."""
        rules = self._policy.rules(call.skill)
        waited = _waited(at, call.queued_at)
        changed = False
        if not call.overflowed and self._crossed(rules.overflow_after_s, waited, ewt_s):
            call.overflowed = call.widened = changed = True
        if not call.widened and self._crossed(rules.widen_after_s, waited, ewt_s):
            call.widened = changed = True
        sticky = call.preferred_agent is not None and not call.sticky_over
        if sticky and at >= call.queued_at + rules.sticky_wait_s:
            call.sticky_over = changed = True
        if call.retry_at is not None and at >= call.retry_at:
            call.retry_at, changed = None, True
        return changed

    def _level_ewt_wanted(self, call: _Call, at: float) -> bool:
        """Whether widening or overflow of this call may still be triggered by its EWT."""
        rules = self._policy.rules(call.skill)
        waited = _waited(at, call.queued_at)
        after_s = rules.overflow_after_s
        if after_s is not None and not call.overflowed and waited < after_s:
            return True
        after_s = rules.widen_after_s
        return after_s is not None and not call.widened and waited < after_s

    def _speak_to_waiting(self, at: float, out: list[Decision], due: list[_Call]) -> None:
        """Voicemail, announcements and callback offers due on a tick, in service order, with
        the estimates as of the tick. Only the ``due`` calls (in service order) can be due;
        estimates are worked out only for the calls that need one now."""
        waiting = [c for c in due if c.state is CallState.WAITING]

        def voicemail_ewt_wanted(call: _Call) -> bool:
            after_s = self._policy.rules(call.skill).voicemail_after_s
            return after_s is not None and _waited(at, call.queued_at) < after_s

        estimates: Estimates = {}
        if self._policy.thresholds_use_ewt:
            estimates = self._estimates_of(list(filter(voicemail_ewt_wanted, waiting)), at)
        for call in waiting:
            after_s = self._policy.rules(call.skill).voicemail_after_s
            ewt_s = estimates.get(call.call_id, (0, None))[1]
            if self._crossed(after_s, _waited(at, call.queued_at), ewt_s):
                self._to_voicemail(call, at, out)

        def speaks(call: _Call) -> bool:
            rules = self._policy.rules(call.skill)
            every = rules.announce_every_s
            last = call.queued_at if call.announced_at is None else call.announced_at
            if every > 0 and at - last >= every:
                return True
            offer = rules.offer_callback_after_s is not None and not call.callback_offered
            return offer and not self._paused

        speaking = [c for c in waiting if c.call_id in self._calls and speaks(c)]
        if speaking:
            estimates = self._estimates_of(speaking, at)
            for call in speaking:
                self._speak(call, at, out, estimates[call.call_id], entry=False)

    def _speak(
        self,
        call: _Call,
        at: float,
        out: list[Decision],
        estimate: tuple[int, float | None],
        *,
        entry: bool,
    ) -> None:
        """What a waiting caller hears now: voicemail, or position/EWT and a callback offer."""
        rules = self._policy.rules(call.skill)
        position, ewt_s = estimate
        waited = _waited(at, call.queued_at)
        if entry and self._crossed(rules.voicemail_after_s, waited, ewt_s):
            self._to_voicemail(call, at, out)
            return
        every = rules.announce_every_s
        if every > 0:
            last = call.queued_at if call.announced_at is None else call.announced_at
            if entry or at - last >= every:
                announce = AnnouncePosition(
                    call_id=call.call_id, position=position, ewt_s=ewt_s, at=at
                )
                out.append(announce)
                # Keep the cadence of the queue entry, whatever the tick interval.
                call.announced_at = at if entry else last + every * math.floor((at - last) / every)
        offer = not call.callback_offered and not self._paused
        if offer and self._crossed(rules.offer_callback_after_s, waited, ewt_s):
            call.callback_offered = True
            out.append(OfferCallback(call_id=call.call_id, ewt_s=ewt_s, at=at))

    def _to_voicemail(self, call: _Call, at: float, out: list[Decision]) -> None:
        self._call_target(call.state, VOICEMAIL, call.call_id)
        self._drop(call)
        out.append(
            SendToVoicemail(call_id=call.call_id, waited_s=_waited(at, call.queued_at), at=at)
        )

    def _selector(self, call: _Call, at: float) -> Callable[[_Agent], Rank | None]:
        """The rank of an agent for this call now (lower is better), None if it may not take
        it: preferred agent, own skill before overflow skills, best level, longest idle, id."""
        rules = self._policy.rules(call.skill)
        pref = call.preferred_agent
        waited = at - call.queued_at
        sticky = not call.sticky_over and waited < rules.sticky_wait_s
        if pref is not None and sticky and pref in self._agents:

            def only_preferred(agent: _Agent) -> Rank | None:
                return (-1, 0, agent.idle_since, agent.agent_id) if agent.agent_id == pref else None

            return only_preferred
        widened, overflowed = self._stage(call, at)
        max_level = MAX_LEVEL if widened else rules.initial_max_level
        groups = self._policy.overflow.get(call.skill, ()) if overflowed else ()
        skill = call.skill

        def rank(agent: _Agent) -> Rank | None:
            tier, level = 0, agent.level(skill)
            if not 0 < level <= max_level:
                tier, level = next(
                    ((n, lvl) for n, g in enumerate(groups, 1) if (lvl := agent.level(g))),
                    (0, 0),
                )
                if not tier:
                    return None
            if agent.agent_id == pref:
                tier = -1
            return (tier, level, agent.idle_since, agent.agent_id)

        return rank

    def _placeable(self, call: _Call, at: float) -> bool:
        """The call is in the queue and may be given an agent now."""
        if call.state is CallState.WAITING:
            return True
        if call.state in (CallState.CALLBACK, CallState.MISSED):
            return not self._paused and (call.retry_at is None or at >= call.retry_at)
        return False

    def _match(self, at: float, out: list[Decision]) -> None:
        if not self._ready_agents:
            return
        ready = list(self._ready_agents.values())
        # A cheap test first: could any ready agent take the call at all? (Its skill, one of
        # its overflow skills or its preferred agent among the ready.) Most calls of a long
        # queue fail it, and are not ranked against every ready agent.
        skills = Counter(name for agent in ready for name in agent.names)
        restricted = self._core is not self._all
        core = Counter(n for a in ready for n in self._core_names(a)) if restricted else skills
        overflow = self._policy.overflow
        for call in self._queue_order():
            if not ready:
                return
            if call.state is not CallState.WAITING and not self._placeable(call, at):
                continue
            own = core if restricted and not self._stage(call, at)[0] else skills
            if (
                not own.get(call.skill)
                and call.preferred_agent not in self._ready_agents
                and not any(skills.get(group) for group in overflow.get(call.skill, ()))
            ):
                continue
            rank = self._selector(call, at)
            best: _Agent | None = None
            best_rank: Rank | None = None
            for agent in ready:
                r = rank(agent)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = agent, r
            if best is None:
                continue
            ready.remove(best)
            skills.subtract(best.names)
            if restricted:
                core.subtract(self._core_names(best))
            if call.state is CallState.WAITING:
                self._offer(call, best, at, out)
            else:
                self._place(call, best, at, out)

    def _offer(self, call: _Call, agent: _Agent, at: float, out: list[Decision]) -> None:
        self._dequeue(call)
        call.state, call.agent_id = CallState.OFFERED, agent.agent_id
        out.append(
            OfferCall(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                seat=agent.seat,
                channel=call.channel,
                caller=call.caller,
                ring_timeout_s=self._policy.ring_timeout_s,
            )
        )
        state = self._target(agent.state, OFFER, agent.agent_id)
        self._move(agent, state, "offered", at, out, call_id=call.call_id)

    def _place(self, call: _Call, agent: _Agent, at: float, out: list[Decision]) -> None:
        call_state = self._call_target(call.state, PLACE, call.call_id)
        assert call_state is not None
        self._dequeue(call)
        call.state, call.agent_id = call_state, agent.agent_id
        out.append(
            PlaceCallback(
                call_id=call.call_id,
                agent_id=agent.agent_id,
                seat=agent.seat,
                number=call.number,
                attempt=call.attempts + 1,
                ring_timeout_s=self._policy.ring_timeout_s,
                at=at,
            )
        )
        state = self._target(agent.state, PLACE, agent.agent_id)
        self._move(agent, state, "callback", at, out, call_id=call.call_id)

    def _key(self, call: _Call) -> tuple[int, int, int]:
        """Service order (set as ``call.key`` when the call is queued or listed as missed):
        live calls and accepted callbacks by priority then sequence, then the missed list."""
        if call.missed:
            priority = self._policy.missed_callback_priority
            if priority is None:
                return (1, -call.priority, call.seq)
            return (0, -priority, call.seq)
        return (0, -call.priority, call.seq)

    def _add(self, call: _Call) -> None:
        """A call enters the ACD (or the missed-call list): kept in service order."""
        call.key = self._key(call)
        self._calls[call.call_id] = call
        bisect.insort(self._order, call, key=_by_key)
        if call.state in QUEUED:
            self._enqueue(call)
        if call.state in CALLBACKS:
            self._callback_calls.add(call.call_id)

    def _drop(self, call: _Call) -> None:
        """A call leaves the ACD."""
        del self._calls[call.call_id]
        index = bisect.bisect_left(self._order, call.key, key=_by_key)
        assert self._order[index] is call
        del self._order[index]
        if call.state in QUEUED:
            self._dequeue(call)
        self._callback_calls.discard(call.call_id)
        self._armed.pop(call.call_id, None)
        self._watched.discard(call.call_id)

    def _enqueue(self, call: _Call) -> None:
        """A call (back) in the queue: counted ahead of the calls after it, and timed."""
        bisect.insort(self._queued_keys.setdefault(call.skill, []), call.key)
        bisect.insort(self._queue, call, key=_by_key)
        self._arm(call)

    def _arm(self, call: _Call) -> None:
        """(Re)set the timer of a queued call: the earliest time at which ``_latch`` or
        ``_speak`` may find something to do for it, and whether its EWT must be watched."""
        rules, q = self._policy.rules(call.skill), call.queued_at
        use_ewt = self._policy.thresholds_use_ewt
        times: list[float] = []
        watch = False
        if rules.overflow_after_s is not None and not call.overflowed:
            times.append(_after(q, rules.overflow_after_s))
            watch = use_ewt
        if rules.widen_after_s is not None and not call.widened:
            times.append(_after(q, rules.widen_after_s))
            watch = use_ewt
        if call.preferred_agent is not None and not call.sticky_over:
            times.append(q + rules.sticky_wait_s)
        if call.retry_at is not None:
            times.append(call.retry_at)
        if call.state is CallState.WAITING:
            if rules.voicemail_after_s is not None:
                times.append(_after(q, rules.voicemail_after_s))
                watch = watch or use_ewt
            if rules.announce_every_s > 0:
                last = q if call.announced_at is None else call.announced_at
                times.append(last + rules.announce_every_s)
            if rules.offer_callback_after_s is not None and not call.callback_offered:
                times.append(_after(q, rules.offer_callback_after_s))
                watch = watch or use_ewt
        if watch:
            self._watched.add(call.call_id)
        else:
            self._watched.discard(call.call_id)
        when = min(times, default=None)
        if when is None:
            self._armed.pop(call.call_id, None)
        elif self._armed.get(call.call_id) != when:
            self._armed[call.call_id] = when
            heapq.heappush(self._timers, (when, next(self._timer_seq), call.call_id))

    def _due(self, at: float) -> list[_Call]:
        """The queued calls whose timer is due at ``at`` or that are watched, in service
        order. A superset of the calls a Tick may act on: each is checked exactly."""
        limit = at + (abs(at) + 1.0) * 1e-9  # early rather than late: sums round
        found: dict[str, _Call] = {}
        timers, armed = self._timers, self._armed
        while timers and timers[0][0] <= limit:
            when, _, call_id = heapq.heappop(timers)
            if armed.get(call_id) != when:
                continue  # replaced by a later entry, or the call is gone
            del armed[call_id]
            call = self._calls[call_id]
            if call.state in QUEUED:  # else armed again when it is back in the queue
                found[call_id] = call
        for call_id in list(self._watched):
            call = self._calls[call_id]
            if call.state in QUEUED:
                found[call_id] = call
            else:
                self._watched.discard(call_id)
        return sorted(found.values(), key=_by_key)

    def _dequeue(self, call: _Call) -> None:
        """A call out of the queue (offered, being placed, or gone)."""
        keys = self._queued_keys[call.skill]
        index = bisect.bisect_left(keys, call.key)
        assert keys[index] == call.key
        del keys[index]
        if not keys:
            del self._queued_keys[call.skill]
        index = bisect.bisect_left(self._queue, call.key, key=_by_key)
        assert self._queue[index] is call
        del self._queue[index]

    def _in_service_order(self) -> list[_Call]:
        return list(self._order)

    def _queue_order(self) -> list[_Call]:
        """The calls in the queue (waiting, callback, missed), in service order."""
        return list(self._queue)

    # -- estimates -----------------------------------------------------------------------------
    def _expected_free_at(self, agent: _Agent) -> float:
        """When an agent who just changed state is expected to be free to take a call."""
        match agent.state:
            case AgentState.WRAP_UP:
                return agent.since + self._policy.wrapup_s
            case AgentState.RINGING | AgentState.ON_CALL:
                call = self._calls.get(agent.call_id or "")
                return agent.since + self.mean_handle_s(call.skill if call is not None else "")
        return agent.since

    def _index(self, agent: _Agent, *, add: bool) -> None:
        """Add a working agent to (or take it out of) the staffing pools and the ready set."""
        if agent.state not in WORKING:
            return
        if agent.state is AgentState.READY:
            if add:
                self._ready_agents[agent.agent_id] = agent
            else:
                del self._ready_agents[agent.agent_id]
        elif agent.state is AgentState.WRAP_UP:
            if add:
                self._wrapping[agent.agent_id] = agent
            else:
                del self._wrapping[agent.agent_id]
        self._all.update(agent, agent.names, add=add)
        if self._core is not self._all:
            self._core.update(agent, self._core_names(agent), add=add)

    def _core_names(self, agent: _Agent) -> tuple[str, ...]:
        """The agent's skills at a level that calls not yet widened may go to."""
        if self._core is self._all:
            return agent.names
        return tuple(
            name for name, level in agent.skills
            if level <= self._policy.rules(name).initial_max_level
        )  # fmt: skip

    def _stage(self, call: _Call, at: float) -> tuple[bool, bool]:
        """(widened, overflowed): latched, or crossed by the time waited."""
        rules = self._policy.rules(call.skill)
        waited = at - call.queued_at
        overflowed = call.overflowed or (
            rules.overflow_after_s is not None and waited >= rules.overflow_after_s
        )
        widened = (
            overflowed
            or call.widened
            or (rules.widen_after_s is not None and waited >= rules.widen_after_s)
        )
        return widened, overflowed

    def _pool(self, call: _Call, at: float) -> _Pool:
        """The agents a call may go to now, for its estimate."""
        return self._all if self._core is self._all or self._stage(call, at)[0] else self._core

    def _estimates(self, at: float, wanted: Callable[[_Call], bool] | None = None) -> Estimates:
        """(position, EWT) of the calls in the queue (waiting, callback, missed): all of them,
        or those ``wanted`` (the others are only counted)."""
        queue = self._queue_order()
        split = self._core is not self._all
        pools: list[_Pool | None] = [
            None if wanted is not None and not wanted(c)
            else (self._pool(c, at) if split else self._all)
            for c in queue
        ]  # fmt: skip
        skills: dict[int, set[str]] = {}
        for call, pool in zip(queue, pools, strict=True):
            if pool is not None:
                skills.setdefault(id(pool), set()).add(call.skill)
        wrapup = self._policy.wrapup_s
        staffs = {
            id(pool): pool.staffing(at, skills[id(pool)], wrapup)
            for pool in (self._all, self._core)
            if id(pool) in skills
        }
        found = ewt.queue_estimates(
            [
                (c.skill, None if p is None else staffs[id(p)])
                for c, p in zip(queue, pools, strict=True)
            ],
            self.mean_handle_s,
        )
        return {c.call_id: est for c, est in zip(queue, found, strict=True) if est is not None}

    def _estimates_of(self, calls: Iterable[_Call], at: float) -> Estimates:
        """(position, EWT) of some queued calls, as ``_estimates`` gives them: one by one
        (O(skills * log calls) each), or in one pass over the queue when they are many."""
        calls = list(calls)
        if len(calls) * ONE_PASS_SHARE > len(self._order):
            wanted = {c.call_id for c in calls}
            return self._estimates(at, lambda c: c.call_id in wanted)
        found: Estimates = {}
        known: dict[tuple[str, int], tuple[ewt.Staffing, list[tuple[str, float]]]] = {}
        queued, wrapup = self._queued_keys, self._policy.wrapup_s
        for call in calls:
            pool = self._pool(call, at)
            staff_rivals = known.get((call.skill, id(pool)))
            if staff_rivals is None:
                staff = pool.staffing(at, (call.skill,), wrapup)
                staff_rivals = known[call.skill, id(pool)] = (
                    staff,
                    ewt.competitors(call.skill, staff),
                )
            staff, rivals = staff_rivals
            key = call.key
            ahead = {s: bisect.bisect_left(queued[s], key) for s, _ in rivals if s in queued}
            found[call.call_id] = ewt.estimate_among(
                call.skill, rivals, ahead, staff, self.mean_handle_s
            )
        return found

    def _estimate_new(self, call: _Call, at: float) -> tuple[int, float | None]:
        """(position, EWT) of one queued call: the same as ``_estimates`` gives it, in O(calls)."""
        key = call.key
        ahead = {skill: bisect.bisect_left(keys, key) for skill, keys in self._queued_keys.items()}
        staff = self._pool(call, at).staffing(at, (call.skill,), self._policy.wrapup_s)
        return ewt.estimate_call(call.skill, ahead, staff, self.mean_handle_s)

    # -- views ---------------------------------------------------------------------------------
    def waiting_calls(self, at: float | None = None) -> list[WaitingCallView]:
        """Calls not yet answered (waiting, ringing an agent, callbacks, missed calls), in
        service order, with their position and EWT as of ``at`` (default: the latest time the state
        knows of, the last queue entry or agent state change; the adapter passes its clock).
        """
        estimates = self._estimates(self._latest() if at is None else at)
        return [
            WaitingCallView(
                c.call_id, c.skill, c.priority, c.caller, c.channel, c.queued_at, c.state,
                c.agent_id, *estimates.get(c.call_id, (0, 0.0)),
            )
            for c in self._in_service_order()
            if c.state is not CallState.ANSWERED
        ]  # fmt: skip

    def agents(self) -> list[AgentView]:
        """Logged-in agents, by agent_id."""
        return [_agent_view(a) for a in sorted(self._agents.values(), key=lambda a: a.agent_id)]

    def agent(self, agent_id: str) -> AgentView | None:
        """One logged-in agent (None if not logged in); no copy of the others."""
        found = self._agents.get(agent_id)
        return None if found is None else _agent_view(found)

    def agent_at(self, seat: str) -> AgentView | None:
        """The agent logged in at this seat (a dial string), if any."""
        found = next((a for a in self._agents.values() if a.seat == seat), None)
        return None if found is None else _agent_view(found)

    def _latest(self) -> float:
        """The latest time the state knows of: what the views are for when not told."""
        times = [a.since for a in self._agents.values()]
        times += [c.queued_at for c in self._calls.values()]
        return max(times, default=0.0)

    def can_take(self, call_id: str, agent_id: str, at: float | None = None) -> bool:
        """Whether the rules let this agent be given this call now, were the agent ready."""
        call, agent = self._calls.get(call_id), self._agents.get(agent_id)
        if call is None or agent is None:
            return False
        when = self._latest() if at is None else at
        return self._placeable(call, when) and self._selector(call, when)(agent) is not None

    # -- persistence ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain JSON types; ``restore`` rebuilds an identical ACD."""
        return {
            "version": SNAPSHOT_VERSION,
            "next_seq": self._next_seq,
            "callbacks_paused": self._paused,
            "handle": {skill: [mean, n] for skill, (mean, n) in self._handle.items()},
            "abandons": [
                {"caller": caller, "call_id": a.call_id, "seq": a.seq, "at": a.at}
                for caller, a in self._abandons.items()
            ],
            "agents": [
                {
                    "agent_id": a.agent_id,
                    "seat": a.seat,
                    "skills": [[name, level] for name, level in a.skills],
                    "state": a.state.value,
                    "reason": a.reason,
                    "since": a.since,
                    "idle_since": a.idle_since,
                    "call_id": a.call_id,
                    **({"free_at": a.free_at} if a.state in BUSY else {}),
                    **({"phone_busy": True} if a.phone_busy else {}),
                    **({"after_call": a.after_call} if a.after_call is not None else {}),
                }
                for a in self._agents.values()
            ],
            "calls": [_call_json(c) for c in self._calls.values()],
        }

    @classmethod
    def restore(cls, snap: Mapping[str, Any], policy: AcdPolicy | None = None) -> Acd:
        """The ACD a ``snapshot()`` was taken of (this version or 1); AcdError if it is not."""
        version = snap.get("version") if isinstance(snap, Mapping) else None
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise AcdError(f"not an ACD snapshot of version {READABLE_VERSIONS} ({version!r})")
        acd = cls(policy)
        try:
            acd._next_seq = int(snap["next_seq"])
            free_at: dict[str, float] = {}
            for a in snap["agents"]:
                skills = tuple((str(name), int(level)) for name, level in a["skills"])
                agent = _Agent(
                    str(a["agent_id"]), str(a["seat"]), skills, AgentState(a["state"]),
                    str(a["reason"]), float(a["since"]), float(a["idle_since"]),
                    _opt_str(a["call_id"]),
                )  # fmt: skip
                agent.names = tuple(name for name, _ in skills)
                agent.phone_busy = _bool(a.get("phone_busy", False))
                agent.after_call = _opt_str(a.get("after_call"))
                acd._agents[agent.agent_id] = agent
                if "free_at" in a:  # ringing or on a call: when it was expected to end
                    free_at[agent.agent_id] = float(a["free_at"])
            for c in snap["calls"]:
                call = _Call(
                    str(c["call_id"]), str(c["skill"]), int(c["priority"]), str(c["caller"]),
                    str(c["channel"]), float(c["queued_at"]), int(c["seq"]),
                    CallState(c["state"]), _opt_str(c["agent_id"]),
                )  # fmt: skip
                # Only what differs from a new call is written (version 1 had none of it).
                extra = {k: c.get(k, default) for k, default in CALL_EXTRAS.items()}
                call.preferred_agent = _opt_str(extra["preferred_agent"])
                call.number = str(extra["number"])
                call.missed = _bool(extra["missed"])
                call.attempts = int(extra["attempts"])
                call.retry_at = _opt_float(extra["retry_at"])
                call.widened = _bool(extra["widened"])
                call.overflowed = _bool(extra["overflowed"])
                call.sticky_over = _bool(extra["sticky_over"])
                call.callback_offered = _bool(extra["callback_offered"])
                call.announced_at = _opt_float(extra["announced_at"])
                if call.call_id in acd._calls:
                    raise ValueError(f"call {call.call_id!r} is there twice")
                acd._add(call)
            if version >= 2:
                acd._paused = _bool(snap["callbacks_paused"])
                for skill, (mean, n) in snap["handle"].items():
                    acd._handle[str(skill)] = (float(mean), int(n))
                for a in snap["abandons"]:
                    acd._abandons[str(a["caller"])] = _Abandon(
                        str(a["call_id"]), int(a["seq"]), float(a["at"])
                    )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AcdError(f"corrupt ACD snapshot: {exc!r}") from None
        acd._check_consistent()
        for agent in acd._agents.values():
            agent.free_at = free_at.get(agent.agent_id, acd._expected_free_at(agent))
            acd._index(agent, add=True)
        return acd

    def _check_consistent(self) -> None:
        """A ringing/on-call agent and its call point at each other; callbacks have a number."""
        with_agent = {AgentState.RINGING: (CallState.OFFERED, CallState.CALLING),
                      AgentState.ON_CALL: (CallState.ANSWERED,)}  # fmt: skip
        for agent in self._agents.values():
            if agent.state in with_agent:
                call = self._calls.get(agent.call_id or "")
                want = with_agent[agent.state]
                if call is None or call.state not in want or call.agent_id != agent.agent_id:
                    raise AcdError(f"corrupt ACD snapshot: agent {agent.agent_id!r} {agent.state} "
                                   f"without its call {agent.call_id!r}")  # fmt: skip
            elif agent.call_id is not None or agent.state is AgentState.LOGGED_OUT:
                raise AcdError(f"corrupt ACD snapshot: agent {agent.agent_id!r} is {agent.state} "
                               f"with call {agent.call_id!r}")  # fmt: skip
        seqs: set[int] = set()
        for call in self._calls.values():
            owner = self._agents.get(call.agent_id or "")
            has_agent = call.state in WITH_AGENT
            if has_agent and (owner is None or owner.call_id != call.call_id):
                raise AcdError(f"corrupt ACD snapshot: call {call.call_id!r} {call.state} "
                               f"without its agent {call.agent_id!r}")  # fmt: skip
            if not has_agent and call.agent_id is not None:
                raise AcdError(f"corrupt ACD snapshot: waiting call {call.call_id!r} has an agent")
            if not 0 <= call.seq < self._next_seq or call.seq in seqs:
                raise AcdError(f"corrupt ACD snapshot: call {call.call_id!r} seq {call.seq}")
            seqs.add(call.seq)
            callback = call.state in (CallState.CALLBACK, CallState.MISSED, CallState.CALLING)
            live = call.state in (CallState.WAITING, CallState.OFFERED)
            if (
                (callback and not call.number)
                or (live and call.missed)
                or call.attempts < 0
                or ((call.state is CallState.MISSED) != (call.missed and call.state in QUEUED))
            ):
                raise AcdError(f"corrupt ACD snapshot: call {call.call_id!r} is {call.state} "
                               f"(missed {call.missed}, number {call.number!r})")  # fmt: skip


# The call state a version-1 call did not have, and its value for a new call: the snapshot
# writes only what differs, so that a queue of plain calls costs no more than before.
CALL_EXTRAS: dict[str, Any] = {
    "preferred_agent": None,
    "number": "",
    "missed": False,
    "attempts": 0,
    "retry_at": None,
    "widened": False,
    "overflowed": False,
    "sticky_over": False,
    "callback_offered": False,
    "announced_at": None,
}


def _call_json(c: _Call) -> dict[str, Any]:
    out = {
        "call_id": c.call_id,
        "skill": c.skill,
        "priority": c.priority,
        "caller": c.caller,
        "channel": c.channel,
        "queued_at": c.queued_at,
        "seq": c.seq,
        "state": c.state.value,
        "agent_id": c.agent_id,
    }
    plain = not (
        c.preferred_agent or c.number or c.missed or c.attempts or c.widened or c.overflowed
        or c.sticky_over or c.callback_offered
    ) and c.retry_at is None and c.announced_at is None  # fmt: skip
    if not plain:
        for name, default in CALL_EXTRAS.items():
            value = getattr(c, name)
            if value != default:
                out[name] = value
    return out


def _after(start: float, threshold_s: float) -> float:
    """When ``_waited(at, start) >= threshold_s`` becomes true (always, for 0)."""
    return start + threshold_s if threshold_s > 0 else -math.inf


def _by_key(call: _Call) -> tuple[int, int, int]:
    return call.key


def _bump(counts: dict[str, int], key: str, step: int) -> None:
    n = counts.get(key, 0) + step
    if n:
        counts[key] = n
    else:
        del counts[key]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean")
    return value
