"""Recordings: what the desktop and the engine ask of them (blocking; the engine runs these in a
worker thread). The rules live in the pure modules: ``access`` (who hears what), ``retention``
(what expired), ``quality`` (the checklist and the report); this module joins them to the
store (``store``) and the audio files (``files``).

Identity comes from the caller (a :class:`~hotline.recordings.access.Requester`): the web desktop
authenticates, this module authorises.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.quality import rules as quality
from hotline.recordings import retention
from hotline.recordings.access import Requester, may_hear, may_score
from hotline.recordings.files import AudioRoots, BadRecordingPath
from hotline.recordings.store import Recording, RecordingNotFound, RecordingStore

log = logging.getLogger(__name__)

# ``<call id>-<agent>`` or ``<call id>-dept-<leg>``; a cluster node's call id carries the node
# (``b-1796626846.0``), so the call id is matched, not cut at the first dash.
_RECORDING_NAME = re.compile(r"(?P<call>(?:[a-z][a-z0-9]{0,15}-)?[0-9]+\.[0-9]+)-(?P<rest>.+)")


def recording_name(stem: str) -> tuple[str, str] | None:
    """(call id, agent or ``dept-<leg>``) from a call recording's file name; None: not ours."""
    m = _RECORDING_NAME.fullmatch(stem)
    return (m.group("call"), m.group("rest")) if m else None


class AccessDenied(PermissionError):
    """403: this role may not hear (or score) this recording."""


class RecordingGone(LookupError):
    """404: no such recording, or its audio was removed (the row says when and why)."""


@dataclass
class PurgeResult:
    deleted: list[int] = field(default_factory=list)
    already_gone: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    compressed: list[int] = field(default_factory=list)
    bytes_saved: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "deleted": self.deleted,
            "already_gone": self.already_gone,
            "failed": self.failed,
            "compressed": self.compressed,
            "bytes_saved": self.bytes_saved,
        }


COMPRESS_FORMATS = ("flac", "ogg")
# sox options per format: FLAC at its best compression; Vorbis at quality 3 (~23 kbit/s on
# 8 kHz speech).
SOX_OPTIONS: dict[str, list[str]] = {".flac": ["-C", "8"], ".ogg": ["-C", "3"]}
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg"}


def _now() -> datetime:
    return datetime.now(UTC)


class RecordingService:
    def __init__(
        self,
        store: RecordingStore,
        roots: AudioRoots | Callable[[], AudioRoots],
        *,
        retention_days: Mapping[str, int] | None = None,
        checklist: Mapping[str, float] | None = None,
        sample_per_agent: int = 3,
        compress_after_days: int = 0,
        compress_format: str = "flac",
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self._roots = roots
        self._resolved: AudioRoots | None = roots if isinstance(roots, AudioRoots) else None
        self._lock = threading.Lock()
        self.retention_days = dict(retention_days or retention.DEFAULT_RETENTION_DAYS)
        self.checklist = dict(checklist or quality.DEFAULT_CHECKLIST)
        quality.check_checklist(self.checklist)
        self.sample_per_agent = sample_per_agent
        if compress_format not in COMPRESS_FORMATS:
            raise ValueError(f"recordings.compress_format: {compress_format!r} is not flac or ogg")
        self.compress_after_days = compress_after_days
        self.compress_format = compress_format
        self._said_no_sox = False
        self.clock = clock

    @property
    def roots(self) -> AudioRoots:
        """Resolved on first use: the managed Asterisk's root may take a while to find."""
        with self._lock:
            if self._resolved is None:
                assert callable(self._roots)
                self._resolved = self._roots()
            return self._resolved

    # -- metadata in ------------------------------------------------------------------------

    def started(
        self, kind: str, path: str, call_id: str, agent_id: str | None, at: datetime
    ) -> Recording:
        """A call's recording began (the dialplan's HotlineRecording)."""
        self.roots.resolve(path)  # refuse a path outside the store before storing it
        return self.store.add(kind, path, call_id, at, agent_id=agent_id or None)

    def finish_call(self, call_id: str, ended_at: datetime | None) -> list[Recording]:
        """The call ended: its recordings' end and size (the file is closed by now)."""
        done = []
        for rec in self.store.for_call(call_id):
            if rec.deleted_at is not None or rec.kind == "voicemail":
                continue
            size = self.file_size(rec)
            self.store.finish(rec.id, ended_at if rec.ended_at is None else None, size)
            done.append(self.store.get(rec.id))
        return done

    def voicemail_taken(
        self, call_id: str, file: str, ticket_number: str, left_at: datetime | None
    ) -> Recording:
        """A voicemail message became a ticket: it gets a row like any recording."""
        path = f"voicemail/{file}"
        # One insert with the size: a reader never sees the row half made.
        return self.store.add(
            "voicemail",
            path,
            call_id,
            left_at or self.clock(),
            ticket_number=ticket_number or None,
            size_bytes=self.size_of(path),
        )

    def adopt_orphans(self, idle_s: float = 60.0) -> list[Recording]:
        """Call recordings on disk without a row (their AMI event was lost: the engine or the
        database was away) get one, so retention and review see them. The file's name gives
        call and agent (``<call id>-<agent>.wav``; ``<call id>-dept-<leg>.wav`` is a three-way
        call's department leg), its modification time the times."""
        base = self.roots.recordings / "calls"
        if not base.is_dir():
            return []
        known = self.store.known_paths("calls/")
        now = self.clock().timestamp()
        adopted = []
        for wav in sorted(base.glob("*/*/*/*.wav")):
            stored = wav.relative_to(self.roots.recordings).as_posix()
            named = recording_name(wav.stem)
            if stored in known or named is None:
                continue
            call_id, agent = named
            if any(stored[: -len(".wav")] + "." + f in known for f in COMPRESS_FORMATS):
                # Compressed, the row moved to the new file, the engine stopped before the WAV
                # was removed: it is a leftover, not a recording without metadata.
                wav.unlink(missing_ok=True)
                continue
            try:
                info = wav.stat()
            except FileNotFoundError:
                continue
            if now - info.st_mtime < idle_s:
                continue  # still being recorded (its event may yet come)
            at = datetime.fromtimestamp(info.st_mtime, UTC)
            department = agent.startswith("dept-")  # a three-way call's department leg
            rec = self.store.add(
                "threeway" if department else "call",
                stored,
                call_id,
                at,
                agent_id=None if department else agent,
                ended_at=at,
                size_bytes=info.st_size,
            )
            log.warning("recording %s had no metadata (event lost): adopted", stored)
            adopted.append(rec)
        return adopted

    def finish_unended(self, idle_s: float = 60.0) -> list[Recording]:
        """Call recordings whose end the engine never saw (it was away when the call ended):
        once the file has been idle ``idle_s``, its modification time is the end and its size
        the size. A live call's file keeps growing, so it is left alone."""
        now = self.clock().timestamp()
        done = []
        for rec in self.store.unended(("call", "threeway")):
            try:
                info = self.roots.resolve(rec.path).stat()
            except (OSError, BadRecordingPath):
                continue  # not (yet) on disk: the retention purge deals with missing audio
            if now - info.st_mtime < idle_s:
                continue
            self.store.finish(rec.id, datetime.fromtimestamp(info.st_mtime, UTC), info.st_size)
            log.warning("recording %s had no end (event lost): finished from its file", rec.path)
            done.append(self.store.get(rec.id))
        return done

    def file_size(self, rec: Recording) -> int | None:
        return self.size_of(rec.path)

    def size_of(self, stored: str) -> int | None:
        try:
            return self.roots.resolve(stored).stat().st_size
        except (OSError, BadRecordingPath):
            return None

    # -- retention --------------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> PurgeResult:
        """Remove the audio whose retention ran out; keep (and mark) the rows."""
        now = now or self.clock()
        result = PurgeResult()
        for kind in sorted(self.retention_days):
            limit = retention.cutoff(kind, self.retention_days, now)
            if limit is None:
                continue
            candidates = self.store.held_before(kind, limit)
            for gone in retention.expired(candidates, self.retention_days, now):
                rec = self.store.get(gone.id)
                try:
                    self.roots.resolve(rec.path).unlink()
                    reason = gone.reason
                    result.deleted.append(rec.id)
                except FileNotFoundError:
                    reason = f"{gone.reason} (file was already gone)"
                    result.already_gone.append(rec.id)
                except (OSError, BadRecordingPath) as exc:  # kept; tried again next purge
                    log.error("recording %d (%s) not removed: %s", rec.id, rec.path, exc)
                    result.failed.append(rec.id)
                    continue
                self.store.mark_deleted(rec.id, now, reason)
        self._compress(now, result)
        if result.deleted or result.already_gone or result.failed or result.compressed:
            log.info(
                "recordings purge: %d removed, %d already gone, %d failed, %d compressed "
                "(%d bytes saved)",
                len(result.deleted),
                len(result.already_gone),
                len(result.failed),
                len(result.compressed),
                result.bytes_saved,
            )
        return result

    def _compress(self, now: datetime, result: PurgeResult) -> None:
        """Rule 4 of hotline/recordings/retention.py: re-encode old WAVs (sox), then point the row
        at
        the new file, then remove the WAV. A failure at any step leaves the WAV and its row."""
        if self.compress_after_days <= 0:
            return
        if shutil.which("sox") is None:  # say it once, not once per file every hour
            if not self._said_no_sox:
                log.warning("recordings are not compressed: sox is not installed")
                self._said_no_sox = True
            return
        limit = now - timedelta(days=self.compress_after_days)
        for kind in retention.COMPRESSIBLE:
            held = self.store.held_before(kind, limit)
            for rec in retention.to_compress(held, self.compress_after_days, now):
                saved = self._compress_one(rec.id, rec.path)
                if saved is None:
                    result.failed.append(rec.id)
                else:
                    result.compressed.append(rec.id)
                    result.bytes_saved += saved

    def _compress_one(self, recording_id: int, path: str) -> int | None:
        suffix = "." + self.compress_format
        new_path = path[: -len(".wav")] + suffix
        try:
            src = self.roots.resolve(path)
            dst = self.roots.resolve(new_path)
        except BadRecordingPath as exc:
            log.error("recording %d: %s", recording_id, exc)
            return None
        part = dst.with_name(dst.name + ".part")
        command = [
            "sox",
            "-q",
            str(src),
            "-t",
            self.compress_format,
            *SOX_OPTIONS[suffix],
            str(part),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            before, after = src.stat().st_size, part.stat().st_size
            part.replace(dst)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            log.error("recording %d not compressed: %s %s", recording_id, exc, detail[-200:])
            part.unlink(missing_ok=True)
            return None
        if not self.store.replace_audio(recording_id, path, new_path, after):
            dst.unlink(missing_ok=True)  # the row moved on meanwhile (removed): keep as it is
            return None
        src.unlink(missing_ok=True)
        return before - after

    # -- playback ---------------------------------------------------------------------------

    def open_for(self, who: Requester, recording_id: int) -> tuple[Recording, Path]:
        """The recording and its file, if ``who`` may hear it; else AccessDenied/RecordingGone."""
        try:
            rec = self.store.get(recording_id)
        except RecordingNotFound:
            raise RecordingGone(f"no recording {recording_id}") from None
        if rec.deleted_at is not None:
            raise RecordingGone(
                f"recording {recording_id} was removed {rec.deleted_at.isoformat()}: "
                f"{rec.delete_reason}"
            )
        if not may_hear(who, rec.kind, rec.agent_id):
            raise AccessDenied(f"role {who.role!r} may not hear recording {recording_id}")
        try:
            path = self.roots.resolve(rec.path)
        except BadRecordingPath as exc:
            raise RecordingGone(str(exc)) from None
        if not path.is_file():
            raise RecordingGone(f"recording {recording_id}: its audio file is missing")
        return rec, path

    def describe(self, who: Requester, recording_id: int) -> Recording:
        """The row, removed or not (when and why it was removed stays visible)."""
        try:
            rec = self.store.get(recording_id)
        except RecordingNotFound:
            raise RecordingGone(f"no recording {recording_id}") from None
        if not may_hear(who, rec.kind, rec.agent_id):
            raise AccessDenied(f"role {who.role!r} may not hear recording {recording_id}")
        return rec

    def list_for(
        self,
        who: Requester,
        start: datetime,
        end: datetime,
        *,
        kind: str | None = None,
        agent_id: str | None = None,
    ) -> list[Recording]:
        """Recordings started in [start, end) that ``who`` may hear, newest first."""
        found = self.store.between(start, end, kind=kind, agent_id=agent_id)
        return [rec for rec in found if may_hear(who, rec.kind, rec.agent_id)]

    def of_call(self, who: Requester, call_id: str) -> list[Recording]:
        """A call's recordings that ``who`` may hear (a ticket's calls lead here)."""
        return [r for r in self.store.for_call(call_id) if may_hear(who, r.kind, r.agent_id)]

    def log_playback(self, who: Requester, rec: Recording, byte_range: str) -> None:
        self.store.log_playback(rec.id, who.user, who.role, self.clock(), byte_range)

    # -- quality review ---------------------------------------------------------------------

    def score(
        self, who: Requester, recording_id: int, marks: Mapping[str, float], comment: str = ""
    ) -> float:
        """Score a call recording against the checklist (ScoreError names a bad item)."""
        if not may_score(who):
            raise AccessDenied(f"role {who.role!r} may not score recordings")
        try:
            rec = self.store.get(recording_id)
        except RecordingNotFound:
            raise RecordingGone(f"no recording {recording_id}") from None
        if rec.kind == "voicemail" or not rec.agent_id:
            raise quality.ScoreError(f"recording {recording_id} has no agent to score")
        value = quality.score(self.checklist, marks)
        self.store.save_score(
            rec.id, rec.agent_id, who.user, self.clock(), value, dict(marks), comment
        )
        return value

    def sample_plan(
        self, who: Requester, week_start: datetime
    ) -> tuple[list[quality.AgentSample], dict[int, Recording]]:
        """Rule 5 of hotline/quality/rules.py: the week's picks per agent, and the recordings by
        id (``who`` must be able to hear them: the page plays them)."""
        end = week_start + timedelta(days=7)
        week = {
            rec.id: rec
            for rec in self.list_for(who, week_start, end, kind="call")
            if rec.agent_id and rec.deleted_at is None
        }
        reviewed = self.store.reviewed_among(week)
        calls = [(rec.id, rec.agent_id or "") for rec in week.values()]
        seed = week_start.date().isoformat()
        return quality.sample_plan(calls, reviewed, self.sample_per_agent, seed), week

    def quality_report(self, start: datetime, end: datetime) -> list[quality.AgentQuality]:
        """Per agent: reviews made in [start, end) and their mean score."""
        return quality.report(self.store.scores_between(start, end))
