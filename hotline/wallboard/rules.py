"""The supervisor's wallboard figures, from the engine's status (pure).

Per skill: calls waiting and the longest current wait against the 15-second target, service
level today and in the current 15-minute interval, offered / answered / abandoned today, and
the logged-in agents with that skill by state. The first row (skill ``*``) is the whole centre.
Waits are measured from queue entry, as the 15-second target is (docs/DOMAIN.md).

Offered and answered move when a call is answered, not when it ends: today's figures come from
the finished calls' records, so the calls still in the queue (offered) and those an agent is
talking on now (offered and answered) are added to them. Each figure has a colour for the wall:
green, amber, red against the 15 s target and the service-level goal. Waiting callers are shown
by masked number (138****0000): the wall is read across the room, by visitors too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from hotline.asterisk.ami.cluster import node_of
from hotline.calls.metrics import ALL, TARGET_S

WAITING_STATES = frozenset({"waiting", "offered"})
# The service-level goal the wall colours against: 80 % answered within 15 s (the 12345
# standard's figure); amber from AMBER_SL_BELOW under it, red under that.
SERVICE_LEVEL_GOAL = 0.8
AMBER_SL_BELOW = 0.1
AMBER_WAIT_S = TARGET_S * 2 / 3  # a wait turns amber at 10 s, red past the 15 s target


def mask_number(number: str) -> str:
    """138****0000; "" for a withheld number (no digit), which the page calls 未知号码."""
    if not any(ch.isdigit() for ch in number):
        return ""
    if len(number) >= 7:
        return f"{number[:3]}****{number[-4:]}"
    return f"{number[:2]}****"


def wait_level(wait_s: float) -> str:
    if wait_s > TARGET_S:
        return "red"
    return "amber" if wait_s > AMBER_WAIT_S else "green"


def sl_level(level: float | None) -> str:
    if level is None:
        return "none"
    if level >= SERVICE_LEVEL_GOAL:
        return "green"
    return "amber" if level >= SERVICE_LEVEL_GOAL - AMBER_SL_BELOW else "red"


def _plain(item: Any) -> dict[str, Any]:
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return dict(item)


def _figures(rows: Sequence[Mapping[str, Any]], skill: str) -> Mapping[str, Any]:
    return next((r for r in rows if r.get("skill") == skill), {})


def wallboard(
    status: Mapping[str, Any], now: float, talking: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``talking``: the calls agents are on now (call id -> skill), not yet in the records."""
    talking = talking or {}
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
        live = sum(1 for s in talking.values() if skill in (ALL, s))
        rows.append(
            {
                "skill": skill,
                "waiting": len(mine),
                "longest_wait_s": round(longest, 1),
                "over_target": longest > TARGET_S,
                "wait_level": wait_level(longest),
                "sl_today": day.get("service_level"),
                "sl_today_level": sl_level(day.get("service_level")),
                "sl_interval": current.get("service_level"),
                "sl_interval_level": sl_level(current.get("service_level")),
                "offered_today": day.get("offered", 0) + len(mine) + live,
                "answered_today": day.get("answered", 0) + live,
                "abandoned_today": day.get("abandoned", 0),
                # 一次一评 answers of today's calls (satisfied, basically satisfied, unsatisfied).
                "satisfied_today": day.get("satisfied", 0) + day.get("basic", 0),
                "unsatisfied_today": day.get("unsatisfied", 0),
                "satisfaction_today": day.get("satisfaction_rate"),
                "agents": dict(Counter(str(a["state"]) for a in staffed)),
            }
        )
    return {
        "type": "wallboard",
        "at": now,
        "target_s": TARGET_S,
        "sl_goal": SERVICE_LEVEL_GOAL,
        "calendar_warning": status.get("calendar_warning"),
        "calendar_provisional_year": status.get("calendar_provisional_year"),
        # Hot spots (热点): subject, area and count only (tickets.hotspots.banner).
        "hotspots": list(status.get("hotspots") or []),
        "skills": rows,
        "waiting": [
            {
                "call_id": w["call_id"],
                "node": node_of(str(w["call_id"])),  # a cluster's node ("" for one Asterisk)
                "caller": mask_number(str(w["caller"])),
                "skill": w["skill"],
                "state": str(w["state"]),
                "agent_id": w["agent_id"],
                "waited_s": round(max(0.0, now - float(w["queued_at"])), 1),
                "over_target": now - float(w["queued_at"]) > TARGET_S,
                "wait_level": wait_level(now - float(w["queued_at"])),
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
                "node": node_of(str(a["call_id"] or "")),
                "after_call": a.get("after_call"),  # not ready after this call
            }
            for a in agents
        ],
    }
