"""Hot spots (热点): many tickets on one subject in one area within a window (pure).

A ticket created with a subject and an area makes the service count the tickets of that
subject and area created within ``window_minutes``; from ``threshold`` on, the matter is a hot
spot: an MQTT event (``hotspots``, figures and codes only: no address, description or caller,
so a wall display may show it) and a banner on the wallboard until the window has passed
without a new ticket. Each new ticket while hot raises the event again with the new count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class HotspotRule:
    window_minutes: int = 60
    threshold: int = 5


@dataclass(frozen=True)
class Hotspot:
    subject: str  # subject code
    subject_name: str
    area: str  # area code
    area_name: str
    count: int  # tickets within the window, the newest included
    window_minutes: int
    at: datetime  # the newest ticket's creation

    @property
    def until(self) -> datetime:
        return self.at + timedelta(minutes=self.window_minutes)

    def to_event(self) -> dict[str, Any]:
        """The MQTT payload: every field may reach a wall display (bus.DISPLAY_FIELDS)."""
        return {
            "event": "hotspot", "subject": self.subject, "subject_name": self.subject_name,
            "area": self.area, "area_name": self.area_name, "count": self.count,
            "window_minutes": self.window_minutes, "at": self.at.isoformat(),
        }  # fmt: skip


def detect(
    rule: HotspotRule, count: int, *, subject: str, subject_name: str, area: str,
    area_name: str, at: datetime,
) -> Hotspot | None:  # fmt: skip
    if not subject or not area or count < rule.threshold:
        return None
    return Hotspot(subject, subject_name, area, area_name, count, rule.window_minutes, at)


class HotspotBoard:
    """The hot spots in force, for the wallboard banner (one process's memory: the MQTT
    event is what other systems keep)."""

    def __init__(self) -> None:
        self._spots: dict[tuple[str, str], Hotspot] = {}

    def put(self, spot: Hotspot) -> None:
        old = self._spots.get((spot.subject, spot.area))
        if old is None or old.at <= spot.at:
            self._spots[(spot.subject, spot.area)] = spot

    def current(self, now: datetime) -> list[Hotspot]:
        for key, spot in list(self._spots.items()):
            if spot.until <= now:
                del self._spots[key]
        return sorted(self._spots.values(), key=lambda s: (-s.count, s.subject, s.area))


def banner(spots: list[Hotspot]) -> list[dict[str, Any]]:
    """The wallboard's banner rows (JSON-ready)."""
    return [{**replace(s).to_event(), "until": s.until.isoformat()} for s in spots]
