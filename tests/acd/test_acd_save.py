"""The ACD snapshot is saved at most once per interval however fast events come (issue 15)."""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.acd.core import Acd
from hotline.acd.service import AcdService, AgentLeg
from hotline.calls.tracker import CallTracker


class _Store:
    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    async def save(self, snapshot: dict[str, Any]) -> None:
        self.saved.append(snapshot)


def _service(store: _Store, *, write_ahead: bool = False) -> AcdService:
    # An interval far longer than the test: any second save comes from coalescing going wrong.
    return AcdService(
        Acd(),
        None,  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        CallTracker(),
        write_ahead=write_ahead,
        save_interval_s=3600.0,
    )


async def test_a_burst_of_events_costs_one_encode_and_a_waiter_gets_it_now() -> None:
    store = _Store()
    service = _service(store)
    assert await service.persist() is True
    assert len(store.saved) == 1
    for n in range(100):  # a burst of changes, each asking for a save
        service.legs[f"hl-{n}"] = AgentLeg(f"hl-{n}", f"call-{n}", "1001")
        await service.save()
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(store.saved) == 1  # all of them wait for the one save the interval allows
    # Someone who must have the state in Redis (write-ahead of a leg) does not wait the interval,
    # and the one save it gets holds every change of the burst.
    assert await service.persist() is True
    assert len(store.saved) == 2
    assert len(store.saved[-1]["legs"]) == 100
    await service.drain()
    assert len(store.saved) == 2


async def test_ringing_an_agent_saves_the_leg_without_waiting_for_the_interval() -> None:
    store = _Store()
    service = _service(store, write_ahead=True)
    assert await service.persist() is True
    service.legs["hl-1"] = AgentLeg("hl-1", "call-1", "1001")
    assert await service._save_ahead() is True
    assert "hl-1" in store.saved[-1]["legs"]
    one = _service(store := _Store())  # one engine: not waited for, saved with the next save
    assert await one.persist() is True
    one.legs["hl-2"] = AgentLeg("hl-2", "call-2", "1001")
    assert await one._save_ahead() is True
    assert "hl-2" not in store.saved[-1]["legs"]
    await one.persist()
    assert "hl-2" in store.saved[-1]["legs"]


async def test_saves_are_spaced_by_what_an_encode_costs() -> None:
    """A large state (an encode of 20 ms of CPU) is saved at most once a second: its share of
    a core stays bounded however large the queue grows."""
    store = _Store()
    service = AcdService(Acd(), None, store, None, CallTracker(), save_interval_s=0.0)  # type: ignore[arg-type]
    store.last_encode_s = 0.02  # type: ignore[attr-defined]
    assert await service.persist() is True
    await service.save()
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(store.saved) == 1  # due 1 s after the first, not at once
    assert await service.persist() is True  # a waiter still goes first
    assert len(store.saved) == 2
