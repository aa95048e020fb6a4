"""The night-shift review through the running engine and the real Asterisk: the queue of
voicemail tickets, and "call back" ringing the reviewer's phone, then the citizen, with the
outcome recorded as a callback attempt of the voicemail's call."""

from __future__ import annotations

import asyncio
import json
import urllib.error
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from hotline.calls.store import CallRecordStore
from hotline.tickets.numbers import make_ticket_number
from hotline.tickets.service import TicketService, settings_from_config
from hotline.tickets.store import TicketStore
from hotline.tickets.values import Channel, TicketDraft
from tests.conftest import EngineProcess, HotlineSetup, _flush_redis_prefix
from tests.support.calls import AmiTestClient, user_event

SEAT = "Local/1001@test-phone"  # agent 1001's configured seat (tests/conftest.py)

pytestmark = [pytest.mark.asterisk, pytest.mark.calendar]  # calendar: issue 12


@pytest.fixture
def review_engine(
    asterisk: Any,
    hotline_setup: HotlineSetup,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EngineProcess]:
    # The citizen's phone is a test line that answers (a "department" that talks).
    monkeypatch.setenv("HOTLINE_ACD__CALLBACK_DIAL", "Local/{number}@test-department")
    monkeypatch.setenv("HOTLINE_REVIEW__RING_S", "10")
    _flush_redis_prefix(hotline_setup.cfg)
    proc = EngineProcess(hotline_setup, request.node.name)
    proc.start()
    yield proc
    proc.stop()


def left_voicemail(engine: EngineProcess, caller: str, call_id: str) -> str:
    service = TicketService(
        TicketStore(engine.cfg.database_url), settings_from_config(engine.cfg.tickets)
    )
    draft = TicketDraft(
        category="help",
        description="留言：楼道灯坏了",
        subject_code="99",
        channel=Channel.VOICEMAIL.value,
        caller_number=caller,
        calls=(call_id,),
        recordings=(f"voicemail/20261123-{call_id}.wav",),
    )
    return service.create_voicemail(draft, actor="voicemail-intake").number


async def test_the_queue_lists_messages_and_call_back_reaches_the_citizen(
    review_engine: EngineProcess,
) -> None:
    engine = review_engine
    number = left_voicemail(engine, "13588880001", "vm-review-1")
    queue = engine.api("GET", "/api/v1/voicemail/review")["voicemail"]
    mine = [i for i in queue if i["ticket"] == number]
    assert mine and mine[0]["caller"] == "13588880001"
    assert mine[0]["transcript"] == "留言：楼道灯坏了" and mine[0]["due"]
    assert mine[0]["unreachable"] is False

    ami = AmiTestClient(engine.cfg)
    await ami.connect()
    try:
        placed = engine.api(
            "POST",
            f"/api/v1/voicemail/review/{number}/callback",
            {"reviewer": "r1", "seat": "Local/1001@test-phone"},
        )
        assert placed["attempt"] == 1 and placed["call_id"] == "vm-review-1"
        result = await ami.wait_event(user_event("HotlineReviewCallback"), timeout=30)
        assert result["CallId"] == "vm-review-1" and result["Outcome"] == "ANSWER"
    finally:
        ami.close()
    store = CallRecordStore(engine.cfg.database_url, engine.cfg.spool_dir)
    for _ in range(50):
        attempts = await asyncio.to_thread(store.attempts, "vm-review-1")
        if attempts and attempts[0]["outcome"] != "placed":
            break
        await asyncio.sleep(0.2)
    assert [(a["attempt"], a["agent_id"], a["number"], a["outcome"]) for a in attempts] == [
        (1, "r1", "13588880001", "reached")
    ]


def test_call_back_refuses_what_it_cannot_do(review_engine: EngineProcess) -> None:
    engine = review_engine
    number = left_voicemail(engine, "13588880002", "vm-review-2")

    def post(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            return 200, engine.api("POST", path, body)
        except urllib.error.HTTPError as err:
            assert err.code != 500, engine.log_tail(60)
            return err.code, json.loads(err.read())

    code, body = post(
        f"/api/v1/voicemail/review/{number}/callback", {"reviewer": "r1", "seat": "x; rm -rf"}
    )
    assert code == 400 and "configured" in body["error"]
    code, body = post(
        f"/api/v1/voicemail/review/{number}/callback",
        {"reviewer": "r1", "seat": SEAT + "\r\n\r\nAction: Originate"},
    )
    assert code == 400 and "configured" in body["error"]
    code, body = post(f"/api/v1/voicemail/review/{number}/callback", {"seat": SEAT})
    assert code == 400 and "reviewer" in body["error"]
    code, body = post(
        "/api/v1/voicemail/review/202611230000000/callback", {"reviewer": "r1", "seat": SEAT}
    )
    assert code == 400 and "ticket number" in body["error"], body
    nobody = make_ticket_number(date(2026, 11, 23), 999999)
    code, body = post(f"/api/v1/voicemail/review/{nobody}/callback",
                      {"reviewer": "r1", "seat": SEAT})  # fmt: skip
    assert code == 404, body
    # Once accepted it is an ordinary ticket: no longer in the review.
    engine.api(
        "POST", f"/api/v1/tickets/{number}/actions", {"action": "AcceptVoicemail", "actor": "r1"}
    )
    code, body = post(
        f"/api/v1/voicemail/review/{number}/callback", {"reviewer": "r1", "seat": SEAT}
    )
    assert code == 409 and "not awaiting review" in body["error"]
    queue = engine.api("GET", "/api/v1/voicemail/review")["voicemail"]
    assert number not in [i["ticket"] for i in queue]
