"""The ACD's Redis snapshot under a burst of events: with a save gap, the saves asked for while
one runs become one save after the gap, and that save holds the newest state (bench load at
400 calls up: back-to-back snapshots took over half the engine's CPU)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from acd.calltracker import CallTracker
from acd.core import Acd
from acd.events import CallQueued
from acd.notifier import AcdNotifier
from acd.services import AcdService


class _SlowStore:
    """Redis stand-in for a unit test of the coalescing only (no I/O is under test here)."""

    def __init__(self) -> None:
        self.saved: list[tuple[float, str]] = []

    async def save(self, snapshot: dict[str, Any]) -> None:
        text = json.dumps(snapshot, sort_keys=True)  # as it stands when the save begins
        await asyncio.sleep(0.01)  # a save takes time: requests arrive meanwhile
        self.saved.append((asyncio.get_running_loop().time(), text))


class _Bus:
    def publish(self, *args: object) -> None:
        pass


def _service(store: _SlowStore, gap_s: float) -> AcdService:
    ami: Any = None  # nothing here reaches Asterisk: CallQueued alone rings no agent
    notifier = AcdNotifier(_Bus())  # type: ignore[arg-type]
    return AcdService(Acd(), ami, store, notifier, CallTracker(), save_gap_s=gap_s)  # type: ignore[arg-type]


def _queued(n: int) -> CallQueued:
    return CallQueued(
        call_id=f"c{n}", skill="general", priority=0, caller="139", channel=f"PJSIP/t-{n}", at=n
    )


def test_a_burst_is_saved_twice_with_a_gap_and_the_last_save_has_every_call() -> None:
    store = _SlowStore()
    service = _service(store, gap_s=0.2)

    async def go() -> None:
        await asyncio.gather(*(service.handle(_queued(n)) for n in range(50)))
        await asyncio.sleep(0.4)

    asyncio.run(go())
    assert len(store.saved) == 2, len(store.saved)
    (first_at, _), (second_at, last) = store.saved
    assert second_at - first_at >= 0.2
    assert last == json.dumps(service.snapshot(), sort_keys=True)  # the newest state
    assert "c49" in last


def test_without_a_gap_saves_follow_each_other_at_once() -> None:
    store = _SlowStore()
    service = _service(store, gap_s=0.0)

    async def go() -> None:
        await asyncio.gather(*(service.handle(_queued(n)) for n in range(50)))

    asyncio.run(go())
    # Coalesced while one runs, never waiting: done by the time the burst's handlers return.
    assert 2 <= len(store.saved) < 50
