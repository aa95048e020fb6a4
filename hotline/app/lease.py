"""Who leads: the lease state machine of the standby engine (sans-I/O: events in, decisions out).

Rules (the reasons are in docs/CLUSTER.md, "Standby engine"):

1. A lease is granted by Redis for ``lease_s`` from the moment Redis runs the command. The engine
   counts it from the moment it SENT the command (earlier, on its own monotonic clock), so its
   own idea of the end is never later than Redis's.
2. The engine acts (sends AMI actions) only while ``now < sent_at + lease_s - safety_s``: the
   margin covers a clock running a little fast and an action already on its way to Asterisk.
   Another engine can be granted the lease only after Redis expired it, so the one cut off has
   stopped at least ``safety_s`` before the other may start.
3. Every grant carries a fencing token (Redis INCR): strictly larger for every new leader, so a
   decision taken under an older token is recognisable as stale.
4. A leader that learns it lost the lease, or whose lease ran out before a renewal came back, is
   FENCED for good: it never leads again in this process (the process exits and its supervisor
   starts a fresh standby, which reads the state anew from Redis).
5. At most one request to Redis is in flight; a standby asks every ``poll_s``, a leader renews
   every ``renew_s``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    STANDBY = "standby"
    LEADER = "leader"
    FENCED = "fenced"


@dataclass(frozen=True)
class LeaseTiming:
    lease_s: float
    renew_s: float
    safety_s: float
    poll_s: float

    def __post_init__(self) -> None:
        if not 0 < self.safety_s < self.lease_s:
            raise ValueError("safety margin must be above 0 and below the lease")
        if not 0 < self.renew_s <= (self.lease_s - self.safety_s) / 2:
            raise ValueError(
                "renew at most every (lease - safety)/2, so one lost renewal does not fence"
            )
        if self.poll_s <= 0:
            raise ValueError("poll interval must be above 0")


# -- events in ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Tick:
    now: float


@dataclass(frozen=True)
class Granted:
    """Redis granted the lease asked for at ``sent_at``, under fencing ``token``."""

    token: int
    sent_at: float
    now: float


@dataclass(frozen=True)
class Renewed:
    sent_at: float
    now: float


@dataclass(frozen=True)
class Held:
    """Asked for the lease (or to renew it): another engine holds it."""

    holder: str
    now: float


@dataclass(frozen=True)
class Unanswered:
    """Redis did not answer (error or time-out): nothing learnt."""

    reason: str
    now: float


@dataclass(frozen=True)
class Resign:
    """Clean shutdown: give the lease up so the standby need not wait for it to expire."""

    now: float


Event = Tick | Granted | Renewed | Held | Unanswered | Resign


# -- decisions out -----------------------------------------------------------------------
@dataclass(frozen=True)
class Acquire:
    pass


@dataclass(frozen=True)
class Renew:
    token: int


@dataclass(frozen=True)
class Lead:
    token: int


@dataclass(frozen=True)
class StepDown:
    token: int
    reason: str
    release: bool = False
    """True: the lease may still be ours in Redis; delete it (compare-and-delete)."""


Decision = Acquire | Renew | Lead | StepDown


class Lease:
    def __init__(self, timing: LeaseTiming) -> None:
        self.timing = timing
        self.role = Role.STANDBY
        self.token: int | None = None
        self.holder = ""
        """Who holds the lease, as last seen (an engine id), while standing by."""
        self.valid_until = 0.0
        self.granted_at: float | None = None
        self.renewed_at: float | None = None
        self._asked_at: float | None = None
        self._in_flight = False

    def may_act(self, now: float) -> int | None:
        """The fencing token if this engine may send an action now (rule 2), else None."""
        if self.role is Role.LEADER and now < self.valid_until:
            return self.token
        return None

    def handle(self, event: Event) -> list[Decision]:
        if self.role is Role.FENCED:
            return []
        if isinstance(event, Tick):
            return self._tick(event.now)
        if isinstance(event, Resign):
            return self._fence("shutting down", release=True)
        self._in_flight = False
        if isinstance(event, Granted):
            return self._granted(event)
        if isinstance(event, Renewed):
            if self.role is Role.LEADER:
                self.valid_until = max(self.valid_until, self._until(event.sent_at))
                self.renewed_at = event.now
            return self._tick(event.now)
        if isinstance(event, Held):
            self.holder = event.holder
            if self.role is Role.LEADER:
                return self._fence(f"the lease is held by {event.holder or 'nobody'}")
            return []
        return self._tick(event.now)  # Unanswered: the clock alone decides (rule 2)

    def _until(self, sent_at: float) -> float:
        return sent_at + self.timing.lease_s - self.timing.safety_s

    def _granted(self, event: Granted) -> list[Decision]:
        if self.role is not Role.STANDBY:
            return []
        self.role, self.token, self.holder = Role.LEADER, event.token, ""
        self.valid_until = self._until(event.sent_at)
        self.granted_at = self.renewed_at = event.now
        return [Lead(event.token)]

    def _tick(self, now: float) -> list[Decision]:
        if self.role is Role.LEADER and now >= self.valid_until:
            return self._fence("the lease ran out before a renewal was confirmed", release=False)
        if self._in_flight:
            return []
        every = self.timing.renew_s if self.role is Role.LEADER else self.timing.poll_s
        if self._asked_at is not None and now - self._asked_at < every:
            return []
        self._asked_at = now
        self._in_flight = True
        if self.role is Role.LEADER:
            assert self.token is not None
            return [Renew(self.token)]
        return [Acquire()]

    def _fence(self, reason: str, release: bool = False) -> list[Decision]:
        was_leader = self.role is Role.LEADER
        self.role = Role.FENCED
        self.valid_until = 0.0
        if not was_leader or self.token is None:
            return []
        return [StepDown(self.token, reason, release)]
