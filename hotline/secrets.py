"""Secrets generated at setup: kept in the state directory, readable by root only.

The credentials of the centre's own services live in ``<state_dir>/secrets/`` (0700, each file
0600): the Redis user's password, the MQTT users' passwords, the key that signs what the engine
keeps in Redis. A value set in the configuration wins over the generated one (then the operator
keeps it secret). Nothing here is ever printed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotline.config import Config

SECRETS_DIR = "secrets"


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
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def service_secret(cfg: Config, name: str, configured: str = "") -> str:
    """One of the centre's service credentials, <state_dir>/secrets/<name>."""
    return stored_secret(cfg.paths.state_dir, f"{SECRETS_DIR}/{name}", configured)


def redis_password(cfg: Config) -> str:
    return service_secret(cfg, "redis-password", cfg.redis.password)


def mqtt_password(cfg: Config) -> str:
    """The engine's MQTT user (writes every topic, reads the private feed)."""
    return service_secret(cfg, "mqtt-engine-password", cfg.mqtt.password)


def mqtt_display_password(cfg: Config) -> str:
    """The read-only display user (metrics, agent states, calls without personal data)."""
    return service_secret(cfg, "mqtt-display-password", cfg.mqtt.display_password)


def signing_key(cfg: Config) -> bytes:
    """The key that signs records the engine keeps in Redis (sessions, the ACD snapshot): a
    record someone else wrote into Redis does not carry a valid signature and is refused."""
    return service_secret(cfg, "redis-signing-key").encode()


def sign(key: bytes, context: str, payload: bytes) -> str:
    """HMAC-SHA256 of ``payload`` bound to ``context`` (the Redis key it is stored under), so a
    signed record moved to another key does not verify either."""
    return hmac.new(key, context.encode() + b"\0" + payload, hashlib.sha256).hexdigest()


def verify(key: bytes, context: str, payload: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(key, context, payload), signature)
