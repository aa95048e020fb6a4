"""Where recordings live on disk, and the one way a stored path becomes a file.

A recording's row holds a path relative to the store, starting with its root: ``calls/...``
(the recordings directory: answered calls and three-way legs, laid out
``calls/YYYY/MM/DD/<call id>-<agent>.wav`` by the dialplan) or ``voicemail/<file>`` (the
voicemail directory the IVR records into). Resolving refuses anything that would leave its root
(``..``, absolute paths, an unknown root): a path from the database never names an arbitrary file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hotline.base.settings import Config


class BadRecordingPath(ValueError):
    pass


@dataclass(frozen=True)
class AudioRoots:
    recordings: Path
    """The recordings directory as the engine sees it (holds ``calls/``)."""
    voicemail: Path

    def resolve(self, stored: str) -> Path:
        rel = PurePosixPath(stored)
        if rel.is_absolute() or ".." in rel.parts or len(rel.parts) < 2:
            raise BadRecordingPath(f"recording path {stored!r} is not inside the store")
        root, *rest = rel.parts
        if root == "calls":
            return self.recordings.joinpath(*rel.parts)
        if root == "voicemail":
            return self.voicemail.joinpath(*rest)
        raise BadRecordingPath(f"recording path {stored!r}: unknown root {root!r}")


def voicemail_directory(cfg: Config) -> Path:
    """Where Asterisk writes voicemail, as the engine sees it. For the managed Asterisk this is
    under the state directory (bind-mounted into its chroot), never inside the rebuildable root
    filesystem."""
    if cfg.recordings.voicemail_dir is not None:
        return cfg.recordings.voicemail_dir
    if cfg.asterisk.mode != "managed":
        return Path("/var/spool/asterisk/hotline-voicemail")
    return cfg.audio_dir / "voicemail"


def recordings_directory(cfg: Config) -> Path:
    """The recordings store (holds ``calls/``) as the engine sees it; see voicemail_directory."""
    if cfg.recordings.dir is not None:
        return cfg.recordings.dir
    if cfg.asterisk.mode != "managed":
        return Path("/var/spool/asterisk/hotline-recordings")
    return cfg.audio_dir / "recordings"


def utterances_directory(cfg: Config) -> Path:
    """Callers' sentences recorded for speech intake (managed Asterisk)."""
    return cfg.audio_dir / "utterances"


def audio_roots(cfg: Config) -> AudioRoots:
    """The recordings store and the voicemail directory, as the engine sees them."""
    return AudioRoots(recordings_directory(cfg), voicemail_directory(cfg))
