"""Agent actions (log in to a seat, ready, not ready, log out) turned into ACD events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from hotline.acd.events import AgentLoggedIn, AgentLoggedOut, AgentNotReady, AgentReady
from hotline.acd.service import AcdService
from hotline.base.settings import AgentSeed


class UnknownAgent(LookupError):
    pass


class UnknownSeat(ValueError):
    """A seat that is not a configured dial string (``Config.seats``): never dialled."""


class AgentService:
    def __init__(
        self,
        acd: AcdService,
        seeds: Mapping[str, AgentSeed],
        clock: Callable[[], float] = time.time,
        seats: Iterable[str] = (),
    ) -> None:
        self._acd = acd
        self._seeds = dict(seeds)
        # The seats it may dial: the agents' own and the configured extra ones (full match).
        self.seats = frozenset(seats) | {s.dial_string for s in self._seeds.values()}
        self._clock = clock

    def seed(self, agent_id: str) -> AgentSeed:
        try:
            return self._seeds[agent_id]
        except KeyError:
            raise UnknownAgent(f"no agent {agent_id!r} in the configuration") from None

    async def login(self, agent_id: str, seat: str | None = None) -> None:
        seed = self.seed(agent_id)
        if seat and seat not in self.seats:
            raise UnknownSeat(
                f"seat {seat[:80]!r} is not a configured seat (agents.seat, acd.seats)"
            )
        await self._acd.handle(
            AgentLoggedIn(
                agent_id=agent_id,
                seat=seat or seed.dial_string,
                skills=tuple(sorted(seed.skills.items())),
                at=self._clock(),
            )
        )

    async def ready(self, agent_id: str) -> None:
        self.seed(agent_id)
        await self._acd.handle(AgentReady(agent_id=agent_id, at=self._clock()))

    async def not_ready(self, agent_id: str, reason: str) -> None:
        self.seed(agent_id)
        await self._acd.handle(AgentNotReady(agent_id=agent_id, reason=reason, at=self._clock()))

    async def logout(self, agent_id: str) -> None:
        self.seed(agent_id)
        await self._acd.handle(AgentLoggedOut(agent_id=agent_id, at=self._clock()))
