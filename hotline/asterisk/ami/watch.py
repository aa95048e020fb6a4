"""Is the engine keeping up? The AMI event lag (Asterisk's event ``Timestamp`` -> the engine
taking the event up) and the backlogs (AMI events queued, recording events not yet stored,
call records spooled while the database is away), with a warning that carries the figures.

At 300 concurrent calls the probe saw events handled 5-11 s late with nothing said anywhere:
here the lag's p99 over the last minute and each backlog are checked every few seconds, logged
when over their limit (once a minute while it lasts, and once when back to normal), and shown in
``hotline status``. Pure: the caller passes the times and reads the backlogs.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

WINDOW_S = 60.0
LAG_WARN_S = 1.0  # the 15-second answer target cannot hold with events a second late
BACKLOG_WARN = {"ami_queue": 500, "recording_backlog": 200, "spooled_records": 1}
REPEAT_S = 60.0


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class LoadWatch:
    backlogs: Mapping[str, Callable[[], int]] = field(default_factory=dict)
    lag_warn_s: float = LAG_WARN_S
    backlog_warn: Mapping[str, int] = field(default_factory=lambda: dict(BACKLOG_WARN))
    _lags: deque[tuple[float, float]] = field(default_factory=deque)
    _said: dict[str, float] = field(default_factory=dict)

    def event_taken(self, event_at: float, now: float) -> None:
        """An AMI event stamped ``event_at`` by Asterisk is taken up at ``now``."""
        self._lags.append((now, max(0.0, now - event_at)))
        while self._lags and self._lags[0][0] < now - WINDOW_S:
            self._lags.popleft()

    def figures(self, now: float) -> dict[str, Any]:
        while self._lags and self._lags[0][0] < now - WINDOW_S:
            self._lags.popleft()
        lags = [lag for _, lag in self._lags]
        out: dict[str, Any] = {
            "ami_events_last_min": len(lags),
            "ami_lag_p99_s": _round(p99(lags)),
            "ami_lag_max_s": _round(max(lags) if lags else None),
        }
        for name, read in self.backlogs.items():
            try:
                out[name] = int(read())
            except Exception as exc:  # a figure we cannot read is not a reason to stop
                log.debug("backlog %s unreadable: %s", name, exc)
                out[name] = None
        return out

    def warnings(self, figures: Mapping[str, Any]) -> list[str]:
        said = []
        lag = figures.get("ami_lag_p99_s")
        if lag is not None and lag > self.lag_warn_s:
            said.append(
                f"AMI events handled late: p99 {lag:.2f} s, max {figures['ami_lag_max_s']:.2f} s "
                f"over the last minute ({figures['ami_events_last_min']} events; "
                f"limit {self.lag_warn_s:.2f} s)"
            )
        for name, limit in self.backlog_warn.items():
            value = figures.get(name)
            if value is not None and value >= limit:
                said.append(f"backlog {name.replace('_', ' ')}: {value} (limit {limit})")
        return said

    def check(self, now: float) -> dict[str, Any]:
        """Figures and warnings; logs each warning at most once per REPEAT_S, and says when a
        warning's condition is over."""
        figures = self.figures(now)
        warnings = self.warnings(figures)
        current = {w.split(":")[0] for w in warnings}
        for text in warnings:
            key = text.split(":")[0]
            if now - self._said.get(key, -math.inf) >= REPEAT_S:
                log.warning("falling behind: %s", text)
                self._said[key] = now
        for key in [k for k in self._said if k not in current]:
            log.info("back to normal: %s", key)
            del self._said[key]
        figures["warnings"] = warnings
        return figures


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
