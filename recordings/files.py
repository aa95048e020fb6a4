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

from hotline.config import Config


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
    """Where Asterisk writes voicemail, as the engine sees it (may block: the managed
    Asterisk's root is found, or built)."""
    if cfg.recordings.voicemail_dir is not None:
        return cfg.recordings.voicemail_dir
    if cfg.asterisk.mode != "managed":
        return Path("/var/spool/asterisk/hotline-voicemail")
    from hotline.asterisk.instance import ManagedAsterisk
    from hotline.asterisk.render import voicemail_dir

    managed = ManagedAsterisk(cfg)
    return managed.host_path(voicemail_dir({"spool_dir": str(managed.inside / "spool")}))


def audio_roots(cfg: Config) -> AudioRoots:
    """The recordings store and the voicemail directory, as the engine sees them (may block)."""
    voicemail = voicemail_directory(cfg)
    if cfg.recordings.dir is not None:
        return AudioRoots(cfg.recordings.dir, voicemail)
    if cfg.asterisk.mode != "managed":
        return AudioRoots(Path("/var/spool/asterisk/hotline-recordings"), voicemail)
    from hotline.asterisk.instance import ManagedAsterisk
    from hotline.asterisk.render import recordings_dir

    managed = ManagedAsterisk(cfg)
    inside = recordings_dir({"spool_dir": str(managed.inside / "spool")})
    return AudioRoots(managed.host_path(inside), voicemail)
