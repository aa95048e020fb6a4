"""Callers found waiting in Asterisk that the ACD does not know are queued again in the order
their channels were made. CoreShowChannels lists Asterisk's channel hash table, in no useful
order (tests/acd/test_reconcile_live.py saw three callers come back 3, 5, 4)."""

from __future__ import annotations

import asyncio

from hotline.asterisk.ami.client import Reconnected
from tests.app.test_bad_input import _Asterisk, _Bus, _Store


def channel(uid: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": f"Local/q-{uid};2",
            "Context": "hotline-queue", "CallerIDNum": "139", "Duration": "0:0:5"}  # fmt: skip


def requeued(uids: list[str], node: str = "") -> list[str]:
    from hotline.acd.consumer import AmiConsumer
    from hotline.acd.core import Acd
    from hotline.acd.notifier import AcdNotifier
    from hotline.acd.service import AcdService
    from hotline.calls.tracker import CallTracker

    asterisk = _Asterisk([channel(uid) for uid in uids])
    tracker = CallTracker()
    notifier = AcdNotifier(_Bus())  # type: ignore[arg-type]
    service = AcdService(Acd(), asterisk, _Store(), notifier, tracker)  # type: ignore[arg-type]
    consumer = AmiConsumer(asterisk, service, tracker, notifier, lambda _r: None)  # type: ignore[arg-type]
    asyncio.run(consumer.dispatch(Reconnected(at=50.0)))
    return [view.call_id for view in service.acd.waiting_calls()]


def test_requeued_callers_keep_the_order_their_channels_were_made_in() -> None:
    # Asterisk's sequence counter, not the text: ".10" came after ".9".
    listed = ["1796654304.5", "1796654307.9", "1796654306.7", "1796654307.10"]
    assert requeued(listed) == ["1796654304.5", "1796654306.7", "1796654307.9", "1796654307.10"]


def test_a_cluster_nodes_ids_sort_the_same_way() -> None:
    listed = ["b-1796654307.12", "b-1796654301.3", "b-1796654307.9"]
    assert requeued(listed) == ["b-1796654301.3", "b-1796654307.9", "b-1796654307.12"]
