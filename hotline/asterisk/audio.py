"""Citizens' audio for the managed Asterisk: kept in the state directory, bind-mounted into the
chroot, and moved there from where older versions left it (inside the root filesystem).

The root filesystem lives in the cache and is deleted after a rebuild (new recipe, another
suite, an upgrade): nothing there may be the only copy of a recording. Asterisk still writes to
``/srv/hotline/<instance>/spool/hotline-{recordings,voicemail,utterances}`` (the dialplan does
not change); while the instance runs those three directories are bind mounts of
``<audio_dir>/...`` (or ``recordings.dir`` / ``recordings.voicemail_dir``).

Rows in ``recordings`` hold paths relative to the store's roots (``calls/...``,
``voicemail/<file>``) and voicemail sidecars and tickets name messages by file name only, so
moving the files under the same relative layout leaves every reference valid: no row changes.

Moving is per file and crash-safe: a hard link (same file system) or a copy to a temporary
name, fsync and rename (another file system) puts the file in place before the old one is
unlinked. A crash leaves the old file (moved again next time) or both (the old one is removed
once the new one is found identical). A file whose name is taken by different content is left
where it is, with an error: the clean-up then refuses to delete that root filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from hotline.asterisk.render import recordings_dir, utterance_dir, voicemail_dir
from hotline.base.settings import Config
from hotline.recordings.files import recordings_directory, utterances_directory, voicemail_directory

log = logging.getLogger(__name__)

_PARTIAL = ".hotline-moving"


@dataclass(frozen=True)
class AudioBind:
    source: Path
    """The directory on the host (state directory)."""
    inside: str
    """The directory Asterisk writes to, inside the chroot."""


def audio_binds(cfg: Config) -> list[AudioBind]:
    spool = {"spool_dir": f"/srv/hotline/{cfg.asterisk.instance}/spool"}
    return [
        AudioBind(recordings_directory(cfg), recordings_dir(spool)),
        AudioBind(voicemail_directory(cfg), voicemail_dir(spool)),
        AudioBind(utterances_directory(cfg), utterance_dir(spool)),
    ]


def _target(root: Path, bind: AudioBind) -> Path:
    return root / bind.inside.lstrip("/")


def is_mount_point(path: Path) -> bool:
    real = str(path.resolve())
    with open("/proc/mounts", encoding="utf-8") as fh:
        return any(line.split()[1].replace("\\040", " ") == real for line in fh)


def make_private_dir(path: Path) -> None:
    """mkdir -p, the directory itself 0700 (it holds personal data)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def mount_audio(root: Path, binds: list[AudioBind]) -> None:
    for bind in binds:
        make_private_dir(bind.source)
        target = _target(root, bind)
        target.mkdir(parents=True, exist_ok=True)
        while is_mount_point(target):  # left by a crashed run, maybe of another audio_dir
            subprocess.run(["umount", str(target)], check=True)
        subprocess.run(["mount", "--bind", str(bind.source), str(target)], check=True)


def unmount_audio(root: Path, binds: list[AudioBind]) -> None:
    for bind in binds:
        target = _target(root, bind)
        while is_mount_point(target):
            done = subprocess.run(["umount", str(target)], capture_output=True, text=True)
            if done.returncode != 0:  # busy (a straggling process): detach it anyway
                log.warning("umount %s: %s; detaching it lazily", target, done.stderr.strip())
                subprocess.run(["umount", "-l", str(target)], check=True)


@dataclass
class MoveReport:
    moved: int = 0
    conflicts: list[Path] = field(default_factory=list)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_file(src: Path, dst: Path, *, same_fs: bool = True) -> bool:
    """Move one file so that at every instant at least one complete copy exists.

    False when dst holds other content (src is left alone)."""
    make_private_dir(dst.parent)
    if dst.exists():
        if not filecmp.cmp(src, dst, shallow=False):
            return False
        src.unlink()  # a crash came after the new copy was complete
        return True
    if same_fs:
        try:
            os.link(src, dst)  # never replaces an existing dst
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            same_fs = False
    if not same_fs:
        partial = dst.with_name(dst.name + _PARTIAL)
        with open(src, "rb") as fin:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fout:
                shutil.copyfileobj(fin, fout)
                fout.flush()
                os.fsync(fout.fileno())
        shutil.copystat(src, partial)
        os.chmod(partial, 0o600)
        try:
            os.link(partial, dst)
        except FileExistsError:  # appeared meanwhile: compare on the next run
            partial.unlink()
            return False
        partial.unlink()
    os.chmod(dst, 0o600)
    _fsync_dir(dst.parent)
    src.unlink()
    return True


def move_tree(src: Path, dst: Path, *, same_fs: bool = True) -> MoveReport:
    """Every file under src to the same relative place under dst; empty folders removed."""
    report = MoveReport()
    if not src.is_dir() or is_mount_point(src):
        return report  # nothing there, or already the new layout (mounted)
    for path in sorted(src.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.name.endswith(_PARTIAL):  # our own half copy from a crash: the source remains
            path.unlink()
            continue
        target = dst / path.relative_to(src)
        if move_file(path, target, same_fs=same_fs):
            report.moved += 1
        else:
            report.conflicts.append(path)
    for folder in sorted((p for p in src.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):  # not empty: a conflict stays
            folder.rmdir()
    return report


def migrate_old_audio(cfg: Config, roots: list[Path]) -> MoveReport:
    """Move this instance's audio out of every root filesystem (current or stale) into the
    state directory. Idempotent; run while the instance is stopped (nothing writes there)."""
    total = MoveReport()
    for root in roots:
        for bind in audio_binds(cfg):
            old = _target(root, bind)
            report = move_tree(old, bind.source)
            total.moved += report.moved
            total.conflicts += report.conflicts
            if report.moved:
                log.warning("moved %d audio files from %s to %s", report.moved, old, bind.source)
    for path in total.conflicts:
        log.error(
            "audio file %s not moved: a different file has its name in the state directory; "
            "its root filesystem will not be removed until it is sorted out",
            path,
        )
    return total
