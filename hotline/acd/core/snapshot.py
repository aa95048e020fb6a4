"""Snapshot and restore: the complete state as plain JSON (version 2; version 1 is read too).

Derived state (indexes, pools, timers) is never written: ``restore`` rebuilds it, and checks
that agents and calls point at each other before it gives the ACD back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from hotline.acd.core.policy import AcdError, AcdPolicy
from hotline.acd.core.records import (
    BUSY,
    QUEUED,
    WITH_AGENT,
    Abandon,
    Agent,
    Call,
    CallState,
    opt_float,
    opt_str,
    strict_bool,
)
from hotline.acd.core.views import Views
from hotline.acd.events import AgentState

SNAPSHOT_VERSION = 2
READABLE_VERSIONS = (1, 2)


class Persistence(Views):
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
    def restore(cls, snap: Mapping[str, Any], policy: AcdPolicy | None = None) -> Self:
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
                agent = Agent(
                    str(a["agent_id"]), str(a["seat"]), skills, AgentState(a["state"]),
                    str(a["reason"]), float(a["since"]), float(a["idle_since"]),
                    opt_str(a["call_id"]),
                )  # fmt: skip
                agent.names = tuple(name for name, _ in skills)
                agent.phone_busy = strict_bool(a.get("phone_busy", False))
                agent.after_call = opt_str(a.get("after_call"))
                acd._agents[agent.agent_id] = agent
                if "free_at" in a:  # ringing or on a call: when it was expected to end
                    free_at[agent.agent_id] = float(a["free_at"])
            for c in snap["calls"]:
                call = Call(
                    str(c["call_id"]), str(c["skill"]), int(c["priority"]), str(c["caller"]),
                    str(c["channel"]), float(c["queued_at"]), int(c["seq"]),
                    CallState(c["state"]), opt_str(c["agent_id"]),
                )  # fmt: skip
                # Only what differs from a new call is written (version 1 had none of it).
                extra = {k: c.get(k, default) for k, default in CALL_EXTRAS.items()}
                call.preferred_agent = opt_str(extra["preferred_agent"])
                call.number = str(extra["number"])
                call.missed = strict_bool(extra["missed"])
                call.attempts = int(extra["attempts"])
                call.retry_at = opt_float(extra["retry_at"])
                call.widened = strict_bool(extra["widened"])
                call.overflowed = strict_bool(extra["overflowed"])
                call.sticky_over = strict_bool(extra["sticky_over"])
                call.callback_offered = strict_bool(extra["callback_offered"])
                call.announced_at = opt_float(extra["announced_at"])
                if call.call_id in acd._calls:
                    raise ValueError(f"call {call.call_id!r} is there twice")
                acd._add(call)
            if version >= 2:
                acd._paused = strict_bool(snap["callbacks_paused"])
                for skill, (mean, n) in snap["handle"].items():
                    acd._handle[str(skill)] = (float(mean), int(n))
                for a in snap["abandons"]:
                    acd._abandons[str(a["caller"])] = Abandon(
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


def _call_json(c: Call) -> dict[str, Any]:
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
