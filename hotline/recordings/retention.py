"""Retention, the pure part: which recordings' audio has expired at a given instant.

Rules:

1. Each kind (``call``, ``voicemail``, ``threeway``) keeps its audio for its own number of days
   (``[recordings] retention_days``), counted from when the recording started. A kind without
   a number, or with 0, is kept for ever.
2. Only audio goes: the row stays, marked with when and why it was removed, so a dispute can
   still learn that the recording existed.
3. Already-deleted recordings are never chosen again; the clock is passed in (tests and drills
   run the purge "as of" any instant).
4. Compression: a call's audio (kinds ``call`` and ``threeway``; voicemail keeps the WAV the
   tickets name) still a WAV ``compress_after_days`` after it started (0: never) is re-encoded
   (``compress_format``: FLAC, lossless, about two thirds of the WAV on speech; or Ogg
   Vorbis, lossy, about a fifth). The row then names the new file and its size, and the WAV
   goes; retention still counts from the start of the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_RETENTION_DAYS = {"call": 180, "voicemail": 180, "threeway": 180}
COMPRESSIBLE = ("call", "threeway")


@dataclass(frozen=True)
class Held:
    """What the rule needs to know of one recording."""

    id: int
    kind: str
    started_at: datetime
    deleted_at: datetime | None = None
    path: str = ""


@dataclass(frozen=True)
class Expired:
    id: int
    reason: str


def cutoff(kind: str, days: Mapping[str, int], now: datetime) -> datetime | None:
    """Recordings of ``kind`` started before this have expired; None: kept for ever."""
    keep = days.get(kind, 0)
    return now - timedelta(days=keep) if keep > 0 else None


def expired(recordings: Iterable[Held], days: Mapping[str, int], now: datetime) -> list[Expired]:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    out = []
    for rec in recordings:
        if rec.deleted_at is not None:
            continue
        limit = cutoff(rec.kind, days, now)
        if limit is not None and rec.started_at < limit:
            out.append(Expired(rec.id, f"retention: {rec.kind} kept {days[rec.kind]} days"))
    return out


def to_compress(recordings: Iterable[Held], after_days: int, now: datetime) -> list[Held]:
    """Rule 4: the recordings whose WAV is due to be compressed at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    if after_days <= 0:
        return []
    limit = now - timedelta(days=after_days)
    return [
        rec
        for rec in recordings
        if rec.kind in COMPRESSIBLE
        and rec.deleted_at is None
        and rec.path.endswith(".wav")
        and rec.started_at < limit
    ]
