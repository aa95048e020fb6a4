"""Secrets generated at setup: kept in the state directory, readable by root only."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any


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
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # O_CREAT would keep a leftover's (maybe wider) mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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


GENERATE = "generate"
"""``agents.sip_password = "generate"``: a random password kept in <state_dir>/sip-password-<id>."""


def sip_password(state_dir: Path, agent_id: str, configured: str) -> str:
    """The SIP password of agent_id's endpoint (empty: the agent has none)."""
    if configured == GENERATE:
        return stored_secret(state_dir, f"sip-password-{agent_id}")
    return configured


MASK = "********"
# Keys whose values are secrets wherever they appear (ami.secret, http.api_token,
# mqtt.password, agents[].sip_password, and any *_password / *_secret / *_token added later).
_SECRET_KEY = re.compile(r"(^|_)(secret|password|passwd|token)$", re.I)
# user:password@ in a URL (database.url, redis.url): the password goes, the rest helps.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:@/\s]*:)[^@/\s]+(?=@)")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|secret|token)=)[^&\s]+", re.I)


def mask_text(text: str) -> str:
    """A value with the passwords in any URL inside it replaced by the mask."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    return _QUERY_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def masked(data: Any, key: str = "") -> Any:
    """A copy of a configuration dump (model_dump(mode="json")) fit to print: secrets masked
    (an empty one stays empty: it says "generated into the state directory")."""
    if isinstance(data, dict):
        return {k: masked(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v, key) for v in data]
    if isinstance(data, str):
        if _SECRET_KEY.search(key) and data not in ("", GENERATE):
            return MASK
        return mask_text(data)
    return data
