"""The credentials of the centre's own services, generated at setup (hotline.base.secrets keeps
them).

They live in ``<state_dir>/secrets/`` (0700, each file 0600): the Redis user's password, the
MQTT users' passwords, the key that signs what the engine keeps in Redis. A value set in the
configuration wins over the generated one (then the operator keeps it secret). Nothing here is
ever printed; the configuration keys are named ``*password`` so ``config show`` masks them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from hotline.base.secrets import stored_secret

if TYPE_CHECKING:
    from hotline.base.settings import Config

SECRETS_DIR = "secrets"


def service_secret(cfg: Config, name: str, configured: str = "") -> str:
    """One of the centre's service credentials, <state_dir>/secrets/<name>."""
    if not configured:
        (cfg.paths.state_dir / SECRETS_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
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
