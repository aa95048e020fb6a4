"""Server-side sessions of the web desktop. Pure: the clock is passed in.

The browser holds only a random session id (cookie: HttpOnly, SameSite=Strict, Secure over
https); who the user is, their role and their CSRF token stay on the server. A session ends
after ``idle_s`` without a request or ``max_s`` after log-in, whichever comes first, and at
log-out. This store is the rules and the memory; agents/web/session_persistence.py keeps each
session in Redis as well, so an engine restart logs nobody out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agents.web.security import new_token


@dataclass(frozen=True)
class Session:
    sid: str
    user: str
    role: str
    agent_id: str | None
    unit: str | None
    csrf: str
    created_at: float
    seen_at: float
    lang: str = "zh"


@dataclass
class SessionStore:
    clock: Callable[[], float]
    idle_s: float = 8 * 3600.0
    max_s: float = 12 * 3600.0
    _sessions: dict[str, Session] = field(default_factory=dict)

    def open(
        self, user: str, role: str, agent_id: str | None, unit: str | None, lang: str = "zh"
    ) -> Session:
        now = self.clock()
        self._expire(now)
        session = Session(new_token(), user, role, agent_id, unit, new_token(), now, now, lang)
        self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session with this id (its idle clock restarted), else None."""
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self.clock()
        if now - session.seen_at > self.idle_s or now - session.created_at > self.max_s:
            del self._sessions[sid]
            return None
        session = replace(session, seen_at=now)
        self._sessions[sid] = session
        return session

    def adopt(self, session: Session) -> None:
        """A session kept outside (Redis) comes back after a restart; ``get`` judges it."""
        self._sessions[session.sid] = session

    def has(self, sid: str) -> bool:
        return sid in self._sessions

    def ttl_s(self, session: Session) -> float:
        """How long the session may live unless used again (idle, capped by its maximum)."""
        now = self.clock()
        return min(session.seen_at + self.idle_s, session.created_at + self.max_s) - now

    def set_lang(self, sid: str, lang: str) -> None:
        session = self._sessions.get(sid)
        if session is not None:
            self._sessions[sid] = replace(session, lang=lang)

    def close(self, sid: str) -> None:
        self._sessions.pop(sid, None)

    def close_user(self, user: str) -> None:
        for sid in [s.sid for s in self._sessions.values() if s.user == user]:
            del self._sessions[sid]

    def __len__(self) -> int:
        return len(self._sessions)

    def _expire(self, now: float) -> None:
        for sid, s in list(self._sessions.items()):
            if now - s.seen_at > self.idle_s or now - s.created_at > self.max_s:
                del self._sessions[sid]


@dataclass
class LoginThrottle:
    """Guessing passwords costs time: after ``max_failures`` wrong passwords for one name within
    ``window_s``, that name cannot log in for ``lock_s`` (the page says only "wrong name or
    password", so the lock does not tell a guesser the name exists). Pure; in memory (kept in
    Redis too by agents/web/session_persistence.py, so a restart does not lift a lock)."""

    clock: Callable[[], float]
    max_failures: int = 5
    window_s: float = 900.0
    lock_s: float = 900.0
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def locked(self, name: str) -> bool:
        now = self.clock()
        recent = [t for t in self._failures.get(name, []) if now - t < self.window_s + self.lock_s]
        self._failures[name] = recent
        if len(recent) < self.max_failures:
            return False
        return now - recent[-1] < self.lock_s

    def failed(self, name: str) -> None:
        now = self.clock()
        recent = [t for t in self._failures.get(name, []) if now - t < self.window_s]
        self._failures[name] = [*recent, now][-self.max_failures :]
        if len(self._failures) > 100_000:  # a flood of made-up names must not grow without end
            self._failures.clear()

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)

    def times(self, name: str) -> list[float]:
        """The failures that still count for ``name`` (to keep them outside the process)."""
        return list(self._failures.get(name, []))

    def restore(self, name: str, times: list[float]) -> None:
        self._failures[name] = sorted(times)[-self.max_failures :]

    @property
    def keep_s(self) -> float:
        """How long a failure can still matter."""
        return self.window_s + self.lock_s
