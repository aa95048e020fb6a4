"""Secrets generated at setup: kept in the state directory, readable by root only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def stored_secret(state_dir: Path, name: str, configured: str = "") -> str:
    """The configured value if set, else one generated once and kept in <state_dir>/<name>."""
    if configured:
        return configured
    path = state_dir / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    # A concurrent first start may have written one already; keep whichever landed first.
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def api_token(state_dir: Path, configured: str = "") -> str:
    return stored_secret(state_dir, "api-token", configured)
