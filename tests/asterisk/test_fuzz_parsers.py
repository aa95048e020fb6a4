"""Fuzzing what Asterisk (or anyone reaching its ports) sends us (issue 13): the AMI event
parser, the FastAGI handshake reader and the AGI response reader. Whatever comes in, the only
exception is the documented one (MalformedEvent; ValueError/ConnectionError for a refused
handshake; AgiCommandError/AgiHangup on a channel), never a crash of the socket's reader."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotline.asterisk.agi import AgiChannel, AgiCommandError, AgiHangup, parse_result
from hotline.asterisk.agiserver import _read_headers
from hotline.asterisk.ami.events import AmiEvent, MalformedEvent, parse_event

KNOWN_USER_EVENTS = [
    "HotlineArrived", "HotlineIvrExit", "HotlineQueued", "HotlineAgentAnswered",
    "HotlineVoicemail", "HotlineRecording", "HotlineCallbackAccepted", "HotlineEmergency",
    "HotlineCallbackConnected", "HotlineCallbackFailed", "HotlineSpeech",
    "HotlineReviewCallback", "HotlineNeed", "HotlineLeftQueue", "Other",
]  # fmt: skip
HEADERS = [
    "CallId", "Channel", "Skill", "CallPriority", "Caller", "Dialled", "LinkedId", "Linkedid",
    "Uniqueid", "Agent", "Path", "Kind", "File", "Dial", "Text", "Attempt", "Outcome", "Leg",
    "Reason", "Number", "Cause", "Cause-txt", "Timestamp", "IvrPath", "AgiStatus",
]  # fmt: skip
text = st.text(max_size=40)
value = st.one_of(text, st.lists(text, max_size=3), st.integers(), st.none())
numberish = st.one_of(
    st.integers().map(str), st.floats().map(str), st.sampled_from(["nan", "inf", "²", "1_0"])
)


@st.composite
def ami_events(draw: st.DrawFn) -> dict[str, Any]:
    headers: dict[str, Any] = draw(st.dictionaries(text, value, max_size=6))
    headers["Event"] = draw(
        st.one_of(
            st.sampled_from(["UserEvent", "Hangup", "Newchannel", "FullyBooted", "Shutdown"]),
            text,
            st.none(),
        )
    )
    headers["UserEvent"] = draw(st.one_of(st.sampled_from(KNOWN_USER_EVENTS), value))
    for name in draw(st.lists(st.sampled_from(HEADERS), max_size=12)):
        headers[draw(st.sampled_from([name, name.lower(), name.upper()]))] = draw(
            st.one_of(value, numberish)
        )
    return headers


@settings(max_examples=400, deadline=None)
@given(ami_events())
@example({"Event": "FullyBooted", "Timestamp": "nan"})  # found: a NaN time broke ordering
@example({"Event": "Hangup", "Uniqueid": "1", "Timestamp": "-inf", "Cause": "9" * 5000})
def test_the_ami_event_parser_raises_only_malformed_event(headers: dict[str, Any]) -> None:
    try:
        event = parse_event(headers, 1000.0)
    except MalformedEvent:
        return
    assert event is None or isinstance(event, AmiEvent)
    if event is not None:
        assert math.isfinite(event.at)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_an_agi_response_line_parses_or_is_a_command_error(line: str) -> None:
    try:
        result = parse_result(line)
    except AgiCommandError:
        return
    assert 0 <= result.code <= 999


def _reader(data: bytes, limit: int = 2**16) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=limit)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


handshake_lines = st.one_of(
    st.builds(lambda k, v: f"agi_{k}: {v}".encode(), st.text(max_size=12), st.text(max_size=30)),
    st.sampled_from([b"agi_network_script: ivr", b"agi_request: agi://x/ivr", b"", b"\xff\xfe"]),
    st.binary(max_size=60),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(handshake_lines, max_size=12),
    st.sampled_from([b"\n", b"\r\n"]),
    st.sampled_from([2**16, 64]),
)
def test_the_fastagi_handshake_reader_returns_headers_or_refuses(
    lines: list[bytes], eol: bytes, limit: int
) -> None:
    async def go() -> None:
        try:
            headers = await _read_headers(_reader(eol.join(lines) + eol, limit))
        except (ValueError, ConnectionError):  # refused: FastAgiServer closes the socket
            return
        assert "agi_network_script" in headers or "agi_request" in headers
        assert all(k.startswith("agi_") for k in headers)

    asyncio.run(go())


AGI_LINES = [b"HANGUP", b"520-Invalid", b"520 End", b"200 result=1 (x)", b"511 dead",
             b"100 Trying", b"510 Invalid"]  # fmt: skip


class _Sink:
    def write(self, _data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(AGI_LINES),
            st.binary(max_size=80),
        ),
        max_size=6,
    ),
    st.sampled_from([2**16, 32]),
)
@example([b"200 result=1 (" + b"x" * 40 + b")"], 32)  # found: an over-long line was a ValueError
def test_an_agi_channel_reads_any_response_to_a_result_or_a_documented_error(
    lines: list[bytes], limit: int
) -> None:
    async def go() -> None:
        reader = _reader(b"\n".join(lines) + b"\n", limit)
        channel = AgiChannel({}, reader, _Sink(), command_timeout_s=1.0)  # type: ignore[arg-type]
        try:
            result = await channel.command("NOOP")
        except (AgiCommandError, AgiHangup):
            return
        assert result.code == 200

    asyncio.run(go())
