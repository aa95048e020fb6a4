"""Files and secrets after a real start (issue 13, item 5): the state directory, the call-record
spool, the audio folders and the SQLite file are root's alone, even when an older version left
them open; Asterisk's configuration files (secrets in manager.conf, pjsip.conf) are 0600."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix

pytestmark = pytest.mark.asterisk


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_real_start_leaves_state_spool_audio_and_database_private(
    asterisk: Any, hotline_setup: HotlineSetup
) -> None:
    cfg = hotline_setup.cfg
    state = hotline_setup.state_dir
    folders = [state, cfg.spool_dir, cfg.audio_dir]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)  # as an older version (umask 022) left them
    db = state / "hotline.db"
    if db.exists():
        os.chmod(db, 0o644)
    _flush_redis_prefix(cfg)
    engine = EngineProcess(hotline_setup, "file-modes")
    engine.start()
    engine.stop()
    for folder in folders:
        assert mode(folder) == 0o700, folder
    for name in ("recordings", "voicemail", "utterances"):
        assert mode(cfg.audio_dir / name) == 0o700, name
    for path in (db, db.with_name("hotline.db-wal"), db.with_name("hotline.db-shm")):
        if path.exists() or path == db:
            assert mode(path) == 0o600, path
    for secret in ("api-token", "ami-secret"):
        assert mode(state / secret) == 0o600, secret
    etc = asterisk.host_path(asterisk.inside / "etc")
    for conf in ("manager.conf", "pjsip.conf"):
        assert mode(etc / conf) == 0o600, conf
