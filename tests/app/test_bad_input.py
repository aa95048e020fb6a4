"""Bad input gets a clear error, never a traceback or a hang (issue 13, item 7): configuration
files that are folders, not UTF-8 or nested too deeply; a trace that would keep the simulator
busy for years; report dates at the end of the calendar; an AMI event queue that overflows."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hotline.app.cli import main
from hotline.asterisk.ami.client import AmiClient, Reconnected, Resynchronise
from hotline.asterisk.ami.events import CallArrived
from hotline.base.settings import ConfigError, load_config
from hotline.simulation.files import SimFileError, read_trace
from hotline.tickets.reports import Period
from hotline.tickets.values import FieldError


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a directory"),
        (b"[ami]\nusername = '\xff\xfe'\n", "not UTF-8"),
        (b"a = " + b"[" * 100000, "nested too deeply"),
    ],
)
def test_a_config_file_that_cannot_be_read_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "hotline.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
    assert main(["-c", str(path), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


TRACE_HEADER = "arrival_time_s,caller,skill,priority,patience_s,handle_time_s\n"


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("1e9,138,zh,0,60,100", "arrival_time_s"),
        ("0,138,zh,0,60,1e12", "handle_time_s"),
        ("inf,138,zh,0,60,100", "arrival_time_s"),
    ],
)
def test_a_trace_beyond_31_days_is_refused_not_simulated_for_ever(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, column: str
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(TRACE_HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(SimFileError, match=f"{column}.*at most"):
        read_trace(trace)
    roster = tmp_path / "r.csv"
    roster.write_text("agent,skills,shift_start_s,shift_end_s\n1001,zh:1,0,\n", encoding="utf-8")
    conf = tmp_path / "h.toml"
    conf.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n', encoding="utf-8")
    started = time.monotonic()
    code = main(["-c", str(conf), "simulate", "--roster", str(roster), "--trace", str(trace)])
    assert code == 2 and column in capsys.readouterr().err
    assert time.monotonic() - started < 60  # a bound for a hang, not a timing test


@pytest.mark.parametrize(
    ("first", "last"),
    [("2026-01-01", "9999-12-31"), ("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")],
)
def test_report_dates_at_the_calendars_ends_are_field_errors(first: str, last: str) -> None:
    with pytest.raises(FieldError, match="outside the years"):
        Period.parse(first, last)


def _arrived(n: int) -> dict[str, str]:
    return {
        "Event": "UserEvent",
        "UserEvent": "HotlineArrived",
        "CallId": f"c{n}",
        "Channel": f"PJSIP/trunk-{n}",
    }


def test_an_overflowing_event_queue_resynchronises_after_the_backlog() -> None:
    async def go() -> list[object]:
        client = AmiClient("127.0.0.1", 1, "u", "s", queue_size=3, clock=lambda: 5.0)
        for n in range(5):  # 3 fit, 2 are dropped
            client._on_event(None, _arrived(n))  # type: ignore[arg-type]
        assert client.dropped_events == 2
        seen: list[object] = []
        stream = client.events()
        for _ in range(4):
            seen.append(await asyncio.wait_for(anext(stream), 1))
        client._on_event(None, _arrived(9))  # type: ignore[arg-type]
        seen.append(await asyncio.wait_for(anext(stream), 1))
        return seen

    seen = asyncio.run(go())
    ids = [e.call_id if isinstance(e, CallArrived) else type(e).__name__ for e in seen]
    assert ids == ["c0", "c1", "c2", "Resynchronise", "c9"]
    # The consumer reconciles on it as after a re-login (CoreShowChannels, agents' phones).
    assert isinstance(seen[3], Reconnected) and isinstance(seen[3], Resynchronise)


def test_events_arriving_while_the_queue_is_full_still_end_in_one_resync() -> None:
    async def go() -> list[str]:
        client = AmiClient("127.0.0.1", 1, "u", "s", queue_size=2)
        for n in range(2):
            client._on_event(None, _arrived(n))  # type: ignore[arg-type]
        stream = client.events()
        out = []
        client._on_event(None, _arrived(2))  # type: ignore[arg-type]  # dropped
        out.append(await asyncio.wait_for(anext(stream), 1))  # c0; the resync takes its room
        client._on_event(None, _arrived(3))  # type: ignore[arg-type]  # full again: dropped
        for _ in range(2):
            out.append(await asyncio.wait_for(anext(stream), 1))
        client._on_event(None, _arrived(4))  # type: ignore[arg-type]
        out.append(await asyncio.wait_for(anext(stream), 1))
        return [e.call_id if isinstance(e, CallArrived) else type(e).__name__ for e in out]

    assert asyncio.run(go()) == ["c0", "c1", "Resynchronise", "c4"]


class _Asterisk:
    """What the consumer asks Asterisk after a resync: the channels it still has."""

    def __init__(self, channels: list[dict[str, str]]) -> None:
        self.channels = channels
        self.sent: list[dict[str, object]] = []

    async def send(self, action: dict[str, object], timeout_s: float | None = None) -> object:
        self.sent.append(action)
        if action["Action"] == "CoreShowChannels":
            return [_Msg(c) for c in self.channels]
        return _Msg({"Value": ""})


class _Msg(dict[str, str]):
    success = True


class _Store:
    async def save(self, snapshot: object) -> None:
        pass


class _Bus:
    def publish(self, *args: object) -> None:
        pass


def test_a_resync_after_dropped_events_reconciles_the_acd_with_asterisk() -> None:
    from hotline.acd.consumer import AmiConsumer
    from hotline.acd.core import Acd
    from hotline.acd.events import CallQueued
    from hotline.acd.notifier import AcdNotifier
    from hotline.acd.service import AcdService
    from hotline.calls.tracker import CallTracker

    asterisk = _Asterisk(
        [
            {
                "Event": "CoreShowChannel",
                "Uniqueid": "still.1",
                "Channel": "PJSIP/trunk-1",
                "Context": "hotline-queue",
                "CallerIDNum": "138\r\nAction: X",
                "Duration": "0:0:9",
            },
        ]
    )
    tracker = CallTracker()
    notifier = AcdNotifier(_Bus())  # type: ignore[arg-type]
    service = AcdService(Acd(), asterisk, _Store(), notifier, tracker)  # type: ignore[arg-type]
    consumer = AmiConsumer(asterisk, service, tracker, notifier, lambda _r: None)  # type: ignore[arg-type]

    async def go() -> None:
        # The ACD holds a caller whose hang-up was among the dropped events.
        await service.handle(
            CallQueued(call_id="gone.1", skill="general", priority=0, caller="139",
                       channel="PJSIP/trunk-0", at=1.0)
        )  # fmt: skip
        await consumer.dispatch(Resynchronise(at=20.0))

    asyncio.run(go())
    assert asterisk.sent[0] == {"Action": "CoreShowChannels"}
    waiting = {v.call_id: v for v in service.acd.waiting_calls()}
    assert set(waiting) == {"still.1"}  # the lost caller is gone, the live one queued again
    assert tracker.calls["still.1"].caller == "138"  # the dialplan's digit filter
