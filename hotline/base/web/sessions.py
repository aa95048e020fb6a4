"""Server-side sessions of the web desktop. Pure: the clock is passed in.

The browser holds only a random session id (cookie: HttpOnly, SameSite=Strict, Secure over
https); who the user is, their role and their CSRF token stay on the server. A session ends
after ``idle_s`` without a request or ``max_s`` after log-in, whichever comes first, and at
log-out. This store is the rules and the memory; hotline/desk/session_store.py keeps each
session in Redis as well, so an engine restart logs nobody out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hotline.base.web.security import new_token


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
    stamp: str = ""
    """The user's password stamp at log-in (``User.stamp``): a reset ends older sessions."""


@dataclass
class SessionStore:
    clock: Callable[[], float]
    idle_s: float = 8 * 3600.0
    max_s: float = 12 * 3600.0
    _sessions: dict[str, Session] = field(default_factory=dict)

    def open(
        self,
        user: str,
        role: str,
        agent_id: str | None,
        unit: str | None,
        lang: str = "zh",
        stamp: str = "",
    ) -> Session:
        now = self.clock()
        self._expire(now)
        session = Session(
            new_token(), user, role, agent_id, unit, new_token(), now, now, lang, stamp
        )
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

    def alive(self, sid: str) -> bool:
        """Whether the session is open and within its limits (its idle clock untouched)."""
        session = self._sessions.get(sid)
        if session is None:
            return False
        now = self.clock()
        return now - session.seen_at <= self.idle_s and now - session.created_at <= self.max_s

    def of_user(self, user: str) -> list[Session]:
        return [s for s in self._sessions.values() if s.user == user]

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


@dataclass(frozen=True)
class Failures:
    """Wrong passwords counted under one key (a name, an address, or both): how many, the last."""

    count: int
    last: float


@dataclass(frozen=True)
class LoginLimits:
    """Guessing passwords costs time, and nobody can lock anybody else out (issue 13, item 4).

    Wrong passwords are counted per (address, name), per address and per name; a count is
    forgotten ``window_s`` after its last failure. Past a count's free failures, the next
    attempt must wait ``base_s * 2**(count - free)`` seconds (capped at ``cap_s``) after the
    last failure; an attempt sooner is answered 429 with Retry-After, before any password
    check. Rules:

    * (address, name): ``free_pair`` free failures: one guesser on one name slows down fast.
    * address: ``free_address`` free failures over all names: one guesser spraying names.
    * name: ``free_name`` free failures from all addresses, but this delay holds only an
      address that has failed itself lately: a botnet gets one guess per address on a name
      under attack, and the name's owner, from an address that has not been failing, always
      gets in with the right password. There is no lock: every delay runs out by itself.

    A right password clears the (address, name) count; the others run out. Pure.
    """

    base_s: float = 1.0
    cap_s: float = 300.0
    window_s: float = 900.0
    free_pair: int = 3
    free_address: int = 20
    free_name: int = 10

    def delay_s(self, failures: Failures | None, free: int) -> float:
        if failures is None or failures.count < free:
            return 0.0
        exponent = min(failures.count - free, 30)  # 2**30 s is far past any cap
        return min(self.base_s * 2.0**exponent, self.cap_s)

    def wait_s(
        self,
        now: float,
        pair: Failures | None,
        address: Failures | None,
        name: Failures | None,
    ) -> float:
        """Seconds this address must still wait before trying this name (0: try now)."""
        pair, address, name = (self._live(f, now) for f in (pair, address, name))
        until = [self._until(pair, self.free_pair), self._until(address, self.free_address)]
        if address is not None:  # the name's delay holds only addresses that fail themselves
            until.append(self._until(name, self.free_name))
        return max(0.0, max(until) - now)

    def _live(self, failures: Failures | None, now: float) -> Failures | None:
        if failures is None or now - failures.last >= self.window_s:
            return None
        return failures

    def _until(self, failures: Failures | None, free: int) -> float:
        return 0.0 if failures is None else failures.last + self.delay_s(failures, free)
