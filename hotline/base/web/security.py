"""Passwords, tokens and roles of the web desktop. Pure: no I/O.

Rules:
* Passwords are stored as argon2id hashes (argon2-cffi's defaults, RFC 9106 low-memory profile);
  a hash made with older parameters is re-hashed at the next successful log-in.
* Session ids and CSRF tokens are 32 random bytes (URL-safe base64); tokens are compared in
  constant time, so a forged request learns nothing from how long the refusal took.
* Roles: ``agent`` (takes calls at its own seat), ``supervisor`` (wallboard, forces agents),
  ``reviewer`` (quality review, issue 7), ``unit`` (a handling unit: its own tickets only),
  ``admin`` (users). A page lists the roles that may open it; anyone else gets 403.
"""

from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ROLES = ("agent", "supervisor", "reviewer", "unit", "admin")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per attempt

_hasher = PasswordHasher()


class PasswordRejected(ValueError):
    """A new password does not meet the rules; the message says which."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    if password != password.strip():
        raise PasswordRejected("password: no spaces at the start or end (copy-paste slips)")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed stored hash never matches."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# A hash of a random password: log-ins of unknown users verify against it, so that "no such
# user" takes as long as "wrong password" and names cannot be probed by timing.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison; an empty or missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
