"""Files that survive a crash whole, and files nobody else may read: one place for both.

Every spool (call records, voicemail sidecars, the recording journal) writes the same way: a
temporary name in the same folder, fsync, rename, fsync the folder — after a crash the file is
whole or absent, never half written. Hidden names (``.*.tmp``) are such files still being
written and are never read as entries. Generated configuration with secrets is created 0600
from the first byte (O_EXCL with the mode), never widened afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a folder's new or renamed entries durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """``path`` holds ``data`` whole after this returns, or keeps what it had. With
    ``sync_dir=False`` the caller fsyncs the folder once for a batch."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def keep_aside(path: Path, bad_dir: Path) -> Path:
    """Move an entry the store will never take into ``bad_dir`` for a person to look at; an
    earlier one of the same name is evidence too, so it is never overwritten."""
    bad_dir.mkdir(exist_ok=True)
    target = bad_dir / path.name
    if target.exists():
        target = bad_dir / f"{path.stem}.{time.time_ns()}{path.suffix}"
    os.replace(path, target)
    fsync_dir(bad_dir)
    return target


def write_private(path: Path, text: str) -> None:
    """Create or replace ``path`` readable by its owner only, from the first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # O_CREAT would keep a leftover's (maybe wider) mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.replace(path)
