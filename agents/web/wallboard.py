"""The supervisor's wallboard figures, from the engine's status (pure).

Per skill: calls waiting and the longest current wait against the 15-second target, service
level today and in the current 15-minute interval, offered / answered / abandoned today, and
the logged-in agents with that skill by state. The first row (skill ``*``) is the whole centre.
Waits are measured from queue entry, as the 15-second target is (docs/DOMAIN.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from acd.metrics import ALL, TARGET_S

WAITING_STATES = frozenset({"waiting", "offered"})


def _plain(item: Any) -> dict[str, Any]:
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return dict(item)


def _figures(rows: Sequence[Mapping[str, Any]], skill: str) -> Mapping[str, Any]:
    return next((r for r in rows if r.get("skill") == skill), {})


def wallboard(status: Mapping[str, Any], now: float) -> dict[str, Any]:
    waiting = [
        _plain(w) for w in status.get("waiting", []) if str(_plain(w)["state"]) in WAITING_STATES
    ]
    agents = [_plain(a) for a in status.get("agents", [])]
    metrics = status.get("metrics") or {}
    today, interval = metrics.get("today") or [], metrics.get("interval") or []
    skills = {str(w["skill"]) for w in waiting}
    skills |= {str(s) for a in agents for s, _level in a["skills"]}
    skills |= {str(r["skill"]) for r in (*today, *interval)} - {ALL}
    rows = []
    for skill in [ALL, *sorted(skills)]:
        mine = [w for w in waiting if skill in (ALL, w["skill"])]
        longest = max((max(0.0, now - float(w["queued_at"])) for w in mine), default=0.0)
        staffed = [a for a in agents if skill == ALL or skill in {s for s, _ in a["skills"]}]
        day, current = _figures(today, skill), _figures(interval, skill)
        rows.append(
            {
                "skill": skill,
                "waiting": len(mine),
                "longest_wait_s": round(longest, 1),
                "over_target": longest > TARGET_S,
                "sl_today": day.get("service_level"),
                "sl_interval": current.get("service_level"),
                "offered_today": day.get("offered", 0),
                "answered_today": day.get("answered", 0),
                "abandoned_today": day.get("abandoned", 0),
                "agents": dict(Counter(str(a["state"]) for a in staffed)),
            }
        )
    return {
        "type": "wallboard",
        "at": now,
        "target_s": TARGET_S,
        "calendar_warning": status.get("calendar_warning"),
        "skills": rows,
        "waiting": [
            {
                "call_id": w["call_id"],
                "caller": w["caller"],
                "skill": w["skill"],
                "state": str(w["state"]),
                "agent_id": w["agent_id"],
                "waited_s": round(max(0.0, now - float(w["queued_at"])), 1),
                "over_target": now - float(w["queued_at"]) > TARGET_S,
            }
            for w in waiting
        ],
        "agents": [
            {
                "agent_id": a["agent_id"],
                "state": str(a["state"]),
                # The core also notes why an agent went busy ("answered"): only a pause has one.
                "reason": a["reason"] if str(a["state"]) == "not_ready" else "",
                "for_s": round(max(0.0, now - float(a["since"])), 0),
                "call_id": a["call_id"],
                "after_call": a.get("after_call"),  # not ready after this call
            }
            for a in agents
        ],
    }
