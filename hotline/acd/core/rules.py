"""The ACD's rules and transition tables (after h11): what each event may do, and where to.

``Acd.handle(event) -> list[Decision]``: events (hotline/acd/events.py) in, decisions out. No
clock, no
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
- Idle reserve (issue 17; ``keeps_idle_reserve``): a callback, missed or accepted, takes an
  agent only if, after it, ``callback_min_idle_agents`` ready agents of the call's skill and
  ``callback_min_idle_share`` of its working agents stay ready (a skill with fewer agents
  than the reserve: when all of them are ready). So at the peak no callback takes the agent
  the next live caller needs; the list is worked off as the load falls (the trough), and
  only within working hours (``CallbacksPaused`` outside them). No timer: matching runs on
  every event that frees an agent. With ``callback_reserve_live`` the reserve is never more
  than the live calls ringing or answered in the whole centre (none after closing: every
  agent may call back).
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

Estimated wait (``hotline/acd/ewt.py`` has the formula and why): every call in the queue (waiting,
callback or missed) has a position among the calls that compete for the same agents and an
EWT, from the agents working with its skill and a per-skill running mean of talk + wrap-up
time learned from ``CallEnded``. ``CallEstimate`` is emitted for every queued call, before it
is matched, so the estimate can be compared with the actual wait.

Matching runs after every change that can free an agent or make a call eligible. Calls are
taken in service order (live calls and accepted callbacks: priority, higher first, then queue
sequence, FIFO; then the missed-call list in the same order) and each goes to the ready agent
it may take with, in order: the preferred agent; its own skill (best level, lowest number)
before overflow skills; longest idle; lowest agent_id. With ``borrow_spare_first`` (issue 17,
``borrow_cost``), agents whose only first skill is the call's come before agents lent from
another first skill (a dual specialist is lent from its other subject), and of those the one
whose first skill keeps the most ready agents goes first (the level then breaks ties). An
agent in several skills takes, of the calls it may take, the first in service order
(priority, then time in the queue), except that, with ``keep_first_skill`` (issue 17,
``passes_over``), within one priority it leaves a call for a later one of a skill it has at a
better level (its first skill; until the call has
waited ``first_skill_max_wait_s``), and a call already past ``service_target_s`` for a later
one of a skill at the same level still within it (with ``target_first``, issue 17: at any
level, so a specialist leaves its first skill's lost call for a young one of its second).
Whatever it passes over, an agent is never left ready while a call it may take waits (a
second pass without the rule). Nothing depends on the order events raced in or on dict
order. A call that no ready agent
may take does not hold up later calls. An agent has at most one call at a time.

An event that does not fit raises ``AcdError`` and changes nothing: every handler checks all
its preconditions before it changes anything, and what follows the checks cannot fail.
``snapshot()`` / ``restore()`` carry the complete state (queue order, sequence counter, learned
handle times, remembered abandons, pause flag) as plain JSON; of a call, only the fields added
in version 2 that differ from a new call's are written (``CALL_EXTRAS``), so a queue of plain
calls is no bigger than in version 1. ``restore`` also reads version-1 snapshots.

How the rules are kept (after h11 and ``hotline/tickets/lifecycle.py``): ``AGENT_TRANSITIONS`` and
``CALL_TRANSITIONS`` below are the whole of what is legal. An entry's target is a state, or a
tuple of ``(guard, state)`` branches whose guards are pure functions of the record, the policy
and the event's time; exactly one guard of an entry holds (tests/acd/test_acd_transitions.py
walks the tables). The handlers (machine.py, agent_handlers.py, callback_handlers.py) and
routing ask ``agent_target`` / ``call_target`` and never change what they answer. A move an
agent makes because it asked for "not ready after this call" (the ``asked_not_ready``
branches) takes the reason it gave.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from hotline.acd.core.policy import AcdError, AcdPolicy
from hotline.acd.core.records import Agent, Call, CallState, is_name, waited_since
from hotline.acd.events import (
    AgentAnswered,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentPhoneBusy,
    AgentPhoneFree,
    AgentReady,
    AgentState,
    CallbackAccepted,
    CallbackConnected,
    CallbackFailed,
    CallEnded,
    CallerHungUp,
    CallNeedChanged,
    CallQueued,
    CallWithdrawn,
    Event,
    OfferFailed,
    Tick,
)

OTHER_CALL = "other_call"  # the not-ready reason while the phone is on a call not from the ACD

# Transitions the core makes on its own, named like events in the tables.
OFFER = "offer"
PLACE = "place_callback"
VOICEMAIL = "voicemail"
CALLED_AGAIN = "called_again"
Trigger: TypeAlias = type[Event] | str

# --- guards: pure functions of (record, policy, event time) -----------------------------------

AgentGuard: TypeAlias = Callable[[Agent, AcdPolicy, float], bool]
CallGuard: TypeAlias = Callable[[Call, AcdPolicy, float], bool]


def asked_not_ready(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    """The agent asked for "not ready after this call" during it."""
    return agent.after_call is not None


def not_asked(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    return agent.after_call is None


def not_asked_no_wrapup(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    return agent.after_call is None and policy.wrapup_s <= 0


def not_asked_wraps_up(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    return agent.after_call is None and policy.wrapup_s > 0


def other_call_no_wrapup(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    """Not ready only for a call the ACD did not place, and no wrap-up is configured."""
    return agent.reason == OTHER_CALL and policy.wrapup_s <= 0


def other_call_wraps_up(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    return agent.reason == OTHER_CALL and policy.wrapup_s > 0


def not_ready_by_choice(agent: Agent, policy: AcdPolicy, at: float) -> bool:
    return agent.reason != OTHER_CALL


def goes_on_missed_list(call: Call, policy: AcdPolicy, at: float) -> bool:
    """The caller waited long enough for the missed-call list, and their number is known."""
    after_s = policy.rules(call.skill).missed_callback_after_s
    return (
        after_s is not None and waited_since(at, call.queued_at) >= after_s and is_name(call.caller)
    )


def passes_over(
    call: Call, policy: AcdPolicy, at: float, level: int, other_level: int, other_queued_at: float
) -> bool:
    """Whether a ready agent who may take ``call`` at ``level`` leaves it for the next call of
    the same priority of another skill it has at ``other_level``, queued at
    ``other_queued_at`` (the first-skill rule, ``policy.keep_first_skill``):

    - with ``policy.target_first``, whatever the levels: yes if ``call`` is already past
      ``service_target_s`` and the other can still be answered within it (the lost cause
      last); otherwise by the levels:
    - a better level (its first skill): yes, until ``call`` has waited
      ``first_skill_max_wait_s`` (so a skill everyone has as a second one is never starved);
    - the same level: only if ``call`` is already past ``service_target_s`` and the other can
      still be answered within it;
    - a worse level: never.

    Why ``target_first``: a specialist kept to its first skill answered its own queue's calls
    that had already waited past the target (lost for the service level whoever takes them)
    while young calls of the general skill, which it also has, passed 15 s; app_queue's race
    between queues sometimes serves the young call, and won the 15-second service level on
    such days (issue 17: a generated day 2.3 points, 108 at 10 % above plan).
    """
    waited = waited_since(at, call.queued_at)
    target = policy.service_target_s
    if policy.target_first and waited >= target > waited_since(at, other_queued_at):
        return True
    if other_level < level:
        limit = policy.first_skill_max_wait_s
        return limit is None or waited < limit
    return other_level == level and waited >= target > waited_since(at, other_queued_at)


def borrow_cost(agent: Agent, skill: str, level: int, ready: Mapping[str, int]) -> int:
    """Where a ready agent who may take a call of ``skill`` at ``level`` stands among those
    who may (``policy.borrow_spare_first``; lower goes first; the level only breaks ties): 0
    if ``skill`` is its only first skill (its best level); else it is lent from another first
    skill, and goes after those, the more so the fewer ``ready`` agents (by skill, itself
    included) that skill keeps. Why: with the level alone deciding, a small team of
    specialists who have the general skill at level 2 answered every general call the
    generalists could not, before a large team at level 3 did, and their own subject's
    callers, whom few others can take, waited (a generated day lost 19 points of 15-second
    service level in that subject against app_queue, which has no levels).

    A dual specialist (two subjects at its best level) is lent too, from its other first
    skill: before, it counted as the call's own agent, so when the call's single specialists
    were busy it answered the call before a generalist who has the skill at level 2, and left
    its other subject, which few others can take, short (issue 17, day 101: traffic calls went
    to the three traffic-and-market specialists rather than to the 15 generalists with traffic
    at level 2, while market, 57 % of the calls and served only by its specialists, was
    overloaded; app_queue, without levels, gives those calls to whoever was idle longest)."""
    best = min((lvl for _, lvl in agent.skills), default=level)
    first = [name for name, lvl in agent.skills if lvl == best and name != skill]
    if not first:
        return 0
    return _LENT - max(ready.get(name, 0) for name in first)


_LENT = 1_000_000  # above any ready count: a lent agent after every one of the call's own


def keeps_idle_reserve(
    call: Call, policy: AcdPolicy, ready: int, working: int, live: int | None = None
) -> bool:
    """A callback may take one of the ``ready`` agents of its skill (of ``working`` logged in
    and not on a break) only if ``callback_min_idle_agents`` and ``callback_min_idle_share``
    of the working ones stay ready for live callers; a skill with fewer agents than that
    reserve places it when all of them are ready (else it would never call back). With
    ``callback_reserve_live`` the reserve is at most ``live``, the live calls ringing or
    answered in the whole centre: when no one calls (after closing, a lull of the whole
    centre) it holds nobody back, where before a skill of three agents called back one
    missed call at a time all evening."""
    reserve = max(policy.callback_min_idle_agents,
                  math.ceil(policy.callback_min_idle_share * working))  # fmt: skip
    reserve = min(reserve, working - 1)
    if policy.callback_reserve_live and live is not None:
        reserve = min(reserve, live)
    return reserve <= 0 or ready - 1 >= reserve


def not_listed(call: Call, policy: AcdPolicy, at: float) -> bool:
    return not goes_on_missed_list(call, policy, at)


def last_attempt(call: Call, policy: AcdPolicy, at: float) -> bool:
    """This failed attempt is the last one the policy allows."""
    return call.attempts + 1 >= policy.callback_max_attempts


def missed_retries(call: Call, policy: AcdPolicy, at: float) -> bool:
    return call.missed and not last_attempt(call, policy, at)


def accepted_retries(call: Call, policy: AcdPolicy, at: float) -> bool:
    return not call.missed and not last_attempt(call, policy, at)


def from_missed_list(call: Call, policy: AcdPolicy, at: float) -> bool:
    return call.missed


def accepted_callback(call: Call, policy: AcdPolicy, at: float) -> bool:
    return not call.missed


# --- transition tables ------------------------------------------------------------------------

AgentRule: TypeAlias = AgentState | tuple[tuple[AgentGuard, AgentState], ...]
CallRule: TypeAlias = CallState | tuple[tuple[CallGuard, CallState | None], ...] | None

A = AgentState
# A call that ends with the agent: "not ready after this call" if asked, else ready.
_CALL_OVER: AgentRule = ((asked_not_ready, A.NOT_READY), (not_asked, A.READY))
AGENT_TRANSITIONS: dict[tuple[AgentState, Trigger], AgentRule] = {
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
    (A.RINGING, OfferFailed): A.NOT_READY,  # ring_no_answer, whatever was asked
    (A.RINGING, CallerHungUp): _CALL_OVER,
    (A.RINGING, CallWithdrawn): _CALL_OVER,
    (A.RINGING, AgentAnswered): A.ON_CALL,
    (A.RINGING, CallbackConnected): A.ON_CALL,
    (A.RINGING, CallbackFailed): _CALL_OVER,
    (A.ON_CALL, CallEnded): (
        (asked_not_ready, A.NOT_READY),
        (not_asked_no_wrapup, A.READY),
        (not_asked_wraps_up, A.WRAP_UP),
    ),
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
    (A.NOT_READY, AgentPhoneFree): (  # the other call is over: as after any call
        (other_call_wraps_up, A.WRAP_UP),
        (other_call_no_wrapup, A.READY),
        (not_ready_by_choice, A.NOT_READY),
    ),
    (A.READY, AgentPhoneFree): A.READY,
    (A.WRAP_UP, AgentPhoneFree): A.WRAP_UP,
    (A.RINGING, AgentPhoneFree): A.RINGING,
    (A.ON_CALL, AgentPhoneFree): A.ON_CALL,
}
del A

C = CallState
# A caller who hangs up while waiting or ringing an agent: gone, or on the missed-call list.
_ABANDON: CallRule = ((goes_on_missed_list, C.MISSED), (not_listed, None))
# None: the call is not (or no longer) in the ACD. A target equal to the state: taken, and
# nothing changes.
CALL_TRANSITIONS: dict[tuple[CallState | None, Trigger], CallRule] = {
    (None, CallQueued): C.WAITING,
    (C.WAITING, OFFER): C.OFFERED,
    (C.WAITING, CallerHungUp): _ABANDON,
    (C.WAITING, CallbackAccepted): C.CALLBACK,
    (C.WAITING, VOICEMAIL): None,
    (C.WAITING, CallNeedChanged): C.WAITING,
    (C.WAITING, CallWithdrawn): None,
    (C.OFFERED, CallNeedChanged): C.OFFERED,  # the ringing offer stands
    (C.OFFERED, CallWithdrawn): None,
    (C.OFFERED, OfferFailed): C.WAITING,
    (C.OFFERED, AgentAnswered): C.ANSWERED,
    (C.OFFERED, CallerHungUp): _ABANDON,
    (C.ANSWERED, CallerHungUp): C.ANSWERED,  # ignored: the call ends through CallEnded
    (C.ANSWERED, CallEnded): None,
    (C.CALLBACK, PLACE): C.CALLING,
    (C.CALLBACK, CallerHungUp): C.CALLBACK,  # ignored: the caller hung up on purpose
    (C.CALLBACK, CALLED_AGAIN): None,
    (C.MISSED, PLACE): C.CALLING,
    (C.MISSED, CallerHungUp): C.MISSED,  # ignored: that is how it got on the list
    (C.MISSED, CALLED_AGAIN): None,
    (C.CALLING, CallbackConnected): C.ANSWERED,
    (C.CALLING, CallbackFailed): (  # back to its place, or given up after the last attempt
        (last_attempt, None),
        (missed_retries, C.MISSED),
        (accepted_retries, C.CALLBACK),
    ),
    (C.CALLING, OfferFailed): (  # the agent's leg failed: no attempt used
        (from_missed_list, C.MISSED),
        (accepted_callback, C.CALLBACK),
    ),
    (C.CALLING, CallerHungUp): C.CALLING,  # ignored: the first call's channel going away
}
del C


def trigger_name(trigger: Trigger) -> str:
    return trigger if isinstance(trigger, str) else trigger.__name__


def _allowed_from(table: Mapping[tuple[Any, Trigger], Any], trigger: Trigger) -> str:
    states = [str(state) for state, t in table if t == trigger]
    return " or ".join(states) or "no state"


def agent_target(agent: Agent, trigger: Trigger, policy: AcdPolicy, at: float) -> AgentState:
    """Where ``trigger`` takes the agent, by the table and its guards; AcdError if nowhere."""
    rule = AGENT_TRANSITIONS.get((agent.state, trigger))
    if rule is None:
        raise AcdError(
            f"agent {agent.agent_id!r} is {agent.state}: {trigger_name(trigger)} is allowed "
            f"only when {_allowed_from(AGENT_TRANSITIONS, trigger)}"
        )
    if isinstance(rule, AgentState):
        return rule
    return next(target for guard, target in rule if guard(agent, policy, at))


def call_target(
    call: Call | None, trigger: Trigger, policy: AcdPolicy, at: float, call_id: str = ""
) -> CallState | None:
    """Where ``trigger`` takes the call (None: out of the ACD); AcdError if it may not."""
    state = None if call is None else call.state
    key = (state, trigger)
    if key not in CALL_TRANSITIONS:
        raise AcdError(
            f"call {call.call_id if call else call_id!r} is {state or 'unknown'}: "
            f"{trigger_name(trigger)} is allowed only when "
            f"{_allowed_from(CALL_TRANSITIONS, trigger)}"
        )
    rule = CALL_TRANSITIONS[key]
    if rule is None or isinstance(rule, CallState):
        return rule
    assert call is not None  # a new call's only entry has no guards
    return next(target for guard, target in rule if guard(call, policy, at))


def states_allowing(trigger: Trigger) -> frozenset[CallState | None]:
    """The call states the table lets ``trigger`` happen in."""
    return frozenset(state for state, t in CALL_TRANSITIONS if t == trigger)
