"""The load bench's reading of sipp's logs: dispatch latency counts only an agent freed while a
call waited (bench/sipp_phones.py)."""

from __future__ import annotations

from pathlib import Path

from bench.sipp_phones import LogLine, dispatch_latencies, read_log, waiting_spans


def test_sipp_log_lines_are_read_with_their_wall_clock_time(tmp_path: Path) -> None:
    log = tmp_path / "phones.log"
    log.write_text(
        "2026-12-07\t04:35:45.977307\t1796618145.977307 ring 3001 1391 sip:3001@sip:1391@\n"
        "2026-12-07\t04:35:46.977307\t1796618146.977307 answer 3001 1391\n"
        "2026-12-07\t04:35:47.000000\t1796618147.000000 up 1392\n"
        "not a log line\n",
        encoding="utf-8",
    )
    lines = read_log(log)
    assert lines == [
        LogLine(1796618145.977307, "ring", "3001", "1391"),
        LogLine(1796618146.977307, "answer", "3001", "1391"),
        LogLine(1796618147.0, "up", "1392", "1392"),
    ]
    assert read_log(tmp_path / "missing.log") == []


def _carrier(*calls: tuple[str, float, float]) -> list[LogLine]:
    out = []
    for caller, up, end in calls:
        out += [LogLine(up, "up", caller, caller), LogLine(end, "end", caller, caller)]
    return out


def _phone(agent: str, caller: str, ring: float, free: float) -> list[LogLine]:
    return [
        LogLine(ring, "ring", agent, caller),
        LogLine(ring + 1.0, "answer", agent, caller),
        LogLine(free, "free", agent, caller),
    ]


def test_dispatch_counts_a_free_agent_only_while_a_call_waits() -> None:
    # Caller A rings agent 1 at once; B arrives at 5 and waits until agent 1 is free at 10
    # and rung at 10.05; C arrives at 30, after agent 1 was free at 20 (nobody waited then).
    carrier = _carrier(("A", 0.0, 10.0), ("B", 5.0, 20.0), ("C", 30.0, 40.0))
    phones = (
        _phone("1", "A", 0.1, 10.0) + _phone("1", "B", 10.05, 20.0) + _phone("1", "C", 30.1, 40.0)
    )
    assert waiting_spans(carrier, phones) == [(0.0, 0.1), (5.0, 10.05), (30.0, 30.1)]
    latencies = dispatch_latencies(carrier, phones)
    assert [round(x, 3) for x in latencies] == [0.05]  # 20 -> 30.1 is C's arrival, not dispatch


def test_a_call_that_never_rang_waits_until_it_ends() -> None:
    carrier = _carrier(("A", 0.0, 8.0))
    assert waiting_spans(carrier, []) == [(0.0, 8.0)]
