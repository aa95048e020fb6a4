"""Voicemail sidecars on disk: ``<message>.wav.json`` beside each WAV in the voicemail directory.

Written as temp file, fsync, rename, fsync of the directory: after a crash a sidecar is the
old one or the new one, never half of either. A sidecar that cannot be read (hand-edited,
a disk error) is moved aside to ``<name>.bad`` with the reason logged, and its WAV is treated
as a message nobody told us about (found again, never dropped).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from hotline.base.durable import write_durably
from hotline.voicemail.rules import VoicemailMessage, call_id_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """A WAV in the directory: its sidecar's message, or None when it has none yet."""

    wav: Path
    call_id: str
    message: VoicemailMessage | None
    idle_s: float  # seconds since the WAV last changed


class SidecarStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def wav(self, msg: VoicemailMessage) -> Path:
        return self.directory / msg.file

    def sidecar(self, wav_name: str) -> Path:
        return self.directory / f"{wav_name}.json"

    def find_wav(self, call_id: str) -> Path | None:
        """The message file of a call (``<day>-<call id>.wav``), newest if several."""
        if not self.directory.is_dir():
            return None
        hits = sorted(p for p in self.directory.glob("*.wav") if call_id_of(p.name) == call_id)
        return hits[-1] if hits else None

    def save(self, msg: VoicemailMessage) -> None:
        data = json.dumps(msg.to_json(), ensure_ascii=False, indent=1).encode()
        write_durably(self.sidecar(msg.file), data)

    def load(self, wav_name: str) -> VoicemailMessage | None:
        path = self.sidecar(wav_name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return VoicemailMessage.from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            bad = path.with_name(path.name + ".bad")
            log.error("voicemail sidecar %s unreadable (%s); moved to %s", path, exc, bad.name)
            os.replace(path, bad)
            return None

    def file_clock(self, fallback: float) -> float:
        """Now on the clock that stamps the files here (``fallback`` if it cannot be read).

        A WAV's modification time is stamped by the file system (the kernel, or an NFS server
        for a remote Asterisk), not by the engine's clock: comparing it with the engine's time
        judged a message still being recorded months old whenever the two clocks differ (an
        engine under libfaketime, a skewed host). Touching a marker beside the messages reads
        the same clock that stamped them.
        """
        marker = self.directory / ".clock"
        try:
            # A write, not utime(): the kernel stamps a write as it stamps Asterisk's, while
            # utime(None) goes through libc (where libfaketime moves it too).
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"\n")
                return os.fstat(fd).st_mtime
            finally:
                os.close(fd)
        except OSError:
            return fallback

    def scan(self, now: float) -> list[Found]:
        """Every message WAV with its sidecar (if any), oldest first."""
        if not self.directory.is_dir():
            return []
        files_now = self.file_clock(now)
        found = []
        for wav in sorted(self.directory.glob("*.wav")):
            call_id = call_id_of(wav.name)
            if call_id is None:
                continue  # not a message file of ours
            try:
                idle = max(0.0, files_now - wav.stat().st_mtime)
            except FileNotFoundError:
                continue  # deleted meanwhile
            found.append(Found(wav, call_id, self.load(wav.name), idle))
        return found
