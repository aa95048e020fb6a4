"""File modes of what the engine keeps: personal data and secrets readable by root only.

The engine runs with umask 077 (hotline.app.cli.main), so what it creates is 0600/0700 from the
first byte; this tightens what an older version (or another tool) left more open.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from hotline.base.settings import Config

UMASK = 0o077


def private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


def secure_state(cfg: Config) -> None:
    """State directory, call-record spool and audio folders 0700; the SQLite files 0600."""
    for folder in (cfg.paths.state_dir, cfg.spool_dir, cfg.audio_dir):
        private_dir(folder)
    db = sqlite_file(cfg.database_url)
    if db is not None:
        private_dir(db.parent)
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if path.exists():
                os.chmod(path, 0o600)
