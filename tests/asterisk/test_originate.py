"""The one Originate (hotline.asterisk.ami.client.originate): the action every feature sends,
its time-out, and how its end is read."""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.asterisk.ami.client import Rang, originate


class Sender:
    def __init__(self, answer: list[dict[str, str]]) -> None:
        self.answer = answer
        self.sent: list[tuple[dict[str, Any], float | None]] = []

    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any:
        self.sent.append((action, timeout_s))
        return self.answer


def test_the_action_rings_the_channel_then_runs_the_context() -> None:
    ami = Sender([{"Response": "Success"}, {"Event": "OriginateResponse", "Response": "Success"}])
    rang = asyncio.run(
        originate(
            ami, "PJSIP/1001", "hotline-agent-connect", ring_s=15.5, caller=("138", "1380000"),
            variables=["HOTLINE_CALL=c1"], channel_id="hl-1", margin_s=5.0,
        )
    )  # fmt: skip
    assert rang == Rang(answered=True)
    assert ami.sent == [
        (
            {"Action": "Originate", "Channel": "PJSIP/1001", "Context": "hotline-agent-connect",
             "Exten": "s", "Priority": "1", "Timeout": "15500", "CallerID": '"138" <1380000>',
             "Variable": ["HOTLINE_CALL=c1"], "Async": "true", "ChannelId": "hl-1"},
            20.5,
        )
    ]  # fmt: skip


def test_no_answer_comes_back_with_asterisks_reason_and_no_channel_id_unless_asked() -> None:
    ami = Sender([{"Response": "Success"}, {"Response": "Failure", "Reason": "3"}])
    rang = asyncio.run(
        originate(ami, "PJSIP/1009", "hotline-spy", ring_s=20, caller=("spy", "1001"), variables=[])
    )
    assert rang == Rang(answered=False, reason="3")
    action, timeout = ami.sent[0]
    assert "ChannelId" not in action and timeout == 30
