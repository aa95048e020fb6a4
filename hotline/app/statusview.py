"""`hotline status` for people: the engine's status JSON as a short text report."""

from __future__ import annotations

import time
from typing import Any


def _pct(value: float | None) -> str:
    return "  -  " if value is None else f"{value * 100:5.1f}%"


def _secs(value: float | None) -> str:
    return "   - " if value is None else f"{value:5.1f}"


def format_status(data: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines = [
        f"AMI {'connected' if data.get('ami_connected') else 'DISCONNECTED'} · "
        f"MQTT {'connected' if data.get('mqtt_connected') else 'DISCONNECTED'} · "
        f"calls in progress {data.get('calls_in_progress', 0)} · "
        f"in the IVR {data.get('ivr_sessions', 0)}",
    ]
    cluster = data.get("cluster") or {}
    if cluster.get("role") not in (None, "single"):
        age = cluster.get("lease_age_s")
        lines.append(
            f"engine {cluster.get('engine_id')}: {str(cluster.get('role')).upper()} · "
            f"token {cluster.get('token') if cluster.get('token') is not None else '-'} · "
            f"lease renewed {'-' if age is None else f'{age:.1f} s'} ago · "
            f"leader {cluster.get('holder') or '?'} {cluster.get('leader_url') or ''}".rstrip()
        )
    waiting = data.get("waiting", [])
    lines.append(f"waiting: {len(waiting)}")
    for w in waiting:
        waited = now - float(w.get("queued_at", now))
        flag = "  OVER 15 s" if waited > 15 else ""
        lines.append(
            f"  {w.get('call_id')}  {w.get('skill')}  prio {w.get('priority')}  "
            f"{w.get('state')}  waited {waited:.0f} s{flag}"
        )
    agents = data.get("agents", [])
    by_state: dict[str, int] = {}
    for a in agents:
        by_state[str(a.get("state"))] = by_state.get(str(a.get("state")), 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(by_state.items())) or "none logged in"
    lines.append(f"agents: {summary}")
    metrics = data.get("metrics") or {}
    for title, key in (("this 15-minute interval", "interval"), ("today", "today")):
        rows = metrics.get(key) or []
        if not rows:
            continue
        lines.append(f"{title}:")
        lines.append("  skill        offered answered  SL15s   ASA s abandoned(<5s) longest s  occ")
        for r in rows:
            lines.append(
                f"  {r['skill']!s:<12} {r['offered']:7d} {r['answered']:8d} "
                f"{_pct(r['service_level'])} {_secs(r['asa_s'])} "
                f"{r['abandoned']:6d}({r['abandoned_short']:d})    "
                f"{r['longest_wait_s']:9.1f} {_pct(r['occupancy'])}"
            )
    for line in data.get("speech") or []:
        lines.append(str(line))
    for year, cal in (data.get("calendar") or {}).items():
        lines.append(f"calendar {year}: {cal.get('source')} ({cal.get('detail')})")
    if data.get("calendar_warning"):
        lines.append(f"WARNING: {data['calendar_warning']}")
    load = data.get("load") or {}
    if load:
        lag = load.get("ami_lag_p99_s")
        lines.append(
            f"keeping up: AMI event lag p99 {'-' if lag is None else f'{lag:.2f} s'} "
            f"({load.get('ami_events_last_min', 0)} events in the last minute) · "
            f"AMI queue {load.get('ami_queue', '-')} · "
            f"recording backlog {load.get('recording_backlog', '-')} · "
            f"spooled call records {load.get('spooled_records', '-')}"
        )
    for warning in load.get("warnings") or []:
        lines.append(f"WARNING: {warning}")
    if data.get("malformed_ami_events"):
        lines.append(f"malformed AMI events ignored: {data['malformed_ami_events']}")
    return "\n".join(lines)
