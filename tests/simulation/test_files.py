"""The simulator's files: trace and roster CSV, their errors, generated days, planned shifts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hotline.simulation.files import (
    AgentProfile,
    SimFileError,
    generate_trace,
    hourly_shares,
    parse_skills,
    plan_roster,
    read_roster,
    read_trace,
    skill_mix,
    write_roster,
    write_trace,
)
from hotline.simulation.simulator import RosterAgent, TraceCall

TRACE_HEAD = "arrival_time_s,caller,skill,priority,patience_s,handle_time_s\n"
ROSTER_HEAD = "agent,skills,shift_start_s,shift_end_s\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_a_trace_is_read_with_defaults_for_empty_cells(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", TRACE_HEAD + "0,138,zh,0,60,120\n\n"
                 "1.5,,social,,,30.25\n2,139,zh,3,inf,10\n")  # fmt: skip
    assert read_trace(path) == (
        TraceCall(0.0, "zh", 0, 120.0, 60.0, "138"),
        TraceCall(1.5, "social", 0, 30.25, None, ""),
        TraceCall(2.0, "zh", 3, 10.0, None, "139"),
    )


def test_columns_may_come_in_any_order_and_with_a_bom(tmp_path: Path) -> None:
    text = "\ufeffskill,handle_time_s,arrival_time_s,patience_s,priority,caller\nzh,9,0,,1,x\n"
    assert read_trace(write(tmp_path, "t.csv", text)) == (TraceCall(0.0, "zh", 1, 9.0, None, "x"),)


def test_a_roster_is_read_with_levels_and_clock_times(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", ROSTER_HEAD + "1001,zh:1;social:2,0,\n"
                 '1002," en ; zh:3 ",08:00,16:30\n')  # fmt: skip
    assert read_roster(path) == (
        RosterAgent("1001", (("zh", 1), ("social", 2)), 0.0, math.inf),
        RosterAgent("1002", (("en", 1), ("zh", 3)), 28800.0, 59400.0),
    )


@pytest.mark.parametrize(
    ("text", "line", "column", "problem"),
    [
        ("", 1, None, "empty"),
        ("arrival_time_s,caller,skill,priority,patience,handle_time_s\n", 1, "5 (patience)",
         "unknown"),
        ("arrival_time_s,caller,skill,priority,handle_time_s\n", 1, None,
         "missing column(s) patience_s"),
        ("arrival_time_s,caller,skill,skill,priority,patience_s,handle_time_s\n", 1,
         "4 (skill)", "twice"),
        (TRACE_HEAD + "0,1,zh,0,60,120\n5,2,zh,0,abc,120\n", 3, "5 (patience_s)",
         "'abc' is not a number"),
        (TRACE_HEAD + "-1,1,zh,0,60,120\n", 2, "1 (arrival_time_s)", "must be >= 0"),
        (TRACE_HEAD + "0,1,zh,0,0,120\n", 2, "5 (patience_s)", "must be > 0"),
        (TRACE_HEAD + "0,1,zh,0,60,0\n", 2, "6 (handle_time_s)", "must be > 0"),
        (TRACE_HEAD + "0,1,zh,0,60,nan\n", 2, "6 (handle_time_s)", "must be > 0"),
        (TRACE_HEAD + "0,1,zh,high,60,1\n", 2, "4 (priority)", "not an integer"),
        (TRACE_HEAD + "0,1,,0,60,1\n", 2, "3 (skill)", "empty"),
        (TRACE_HEAD + "0,1,zh,0,60\n", 2, "6 (handle_time_s)", "5 fields, the header has 6"),
        (TRACE_HEAD + "0,1,zh,0,60,1,extra\n", 2, "7", "7 fields"),
        (TRACE_HEAD + '0,"1,zh,0,60,1\n', 2, None, "not valid CSV"),
        (TRACE_HEAD, None, None, "no calls"),
    ],
)  # fmt: skip
def test_trace_errors_name_file_line_and_column(
    tmp_path: Path, text: str, line: int | None, column: str | None, problem: str
) -> None:
    path = write(tmp_path, "trace.csv", text)
    with pytest.raises(SimFileError) as info:
        read_trace(path)
    err = info.value
    assert (err.path, err.line, err.column) == (path, line, column)
    assert problem in err.problem and str(path) in str(err)
    if line is not None:
        assert f"line {line}" in str(err)


@pytest.mark.parametrize(
    ("text", "line", "column", "problem"),
    [
        ("1001,zh:1;social:x,0,\n", 2, "2 (skills)", "level 'x' is not an integer"),
        ("1001,zh:11,0,\n", 2, "2 (skills)", "level must be 1..10"),
        ("1001,zh:1;zh:2,0,\n", 2, "2 (skills)", "twice"),
        ("1001,,0,\n", 2, "2 (skills)", "no skills"),
        ("1001,:2,0,\n", 2, "2 (skills)", "no skill name"),
        ("1001,zh,9:00,8:00\n", 2, "4 (shift_end_s)", "ends (28800) before it starts (32400)"),
        ("1001,zh,25:61,\n", 2, "3 (shift_start_s)", "not a number of seconds or HH:MM"),
        ("1001,zh,0,\n1002,zh,0,\n1001,en,0,\n", 4, "1 (agent)", "already on line 2"),
        (",zh,0,\n", 2, "1 (agent)", "empty"),
    ],
)  # fmt: skip
def test_roster_errors_name_file_line_and_column(
    tmp_path: Path, text: str, line: int, column: str, problem: str
) -> None:
    path = write(tmp_path, "roster.csv", ROSTER_HEAD + text)
    with pytest.raises(SimFileError) as info:
        read_roster(path)
    assert (info.value.line, info.value.column) == (line, column)
    assert problem in info.value.problem


def test_unreadable_files_are_errors_too(tmp_path: Path) -> None:
    with pytest.raises(SimFileError, match="cannot read it"):
        read_trace(tmp_path / "missing.csv")
    bad = write(tmp_path, "latin1.csv", TRACE_HEAD.encode() + b"0,\xe9,zh,0,1,1\n")
    with pytest.raises(SimFileError, match="line 2: not UTF-8"):
        read_trace(bad)


def test_skills_parse() -> None:
    assert parse_skills("zh:1; social:2 ;") == (("zh", 1), ("social", 2))
    assert parse_skills("普通话") == (("普通话", 1),)


def test_write_then_read_gives_the_same(tmp_path: Path) -> None:
    trace = generate_trace(50, 120.0, {"zh": 2, "en": 1}, mean_patience_s=60.0, seed=3)
    write_trace(tmp_path / "t.csv", trace)
    assert read_trace(tmp_path / "t.csv") == trace
    roster = (RosterAgent("x", (("zh", 1), ("en", 4)), 3600.0), RosterAgent("y", (("en", 1),)))
    write_roster(tmp_path / "r.csv", roster)
    assert read_roster(tmp_path / "r.csv") == roster


def test_a_generated_day_has_the_calls_mix_and_shape_asked_for() -> None:
    trace = generate_trace(20_000, 180.0, {"zh": 0.75, "en": 0.25}, shape="workday", seed=1)
    assert len(trace) == 20_000
    assert all(0 <= c.arrival_at < 86400 for c in trace)
    assert [c.arrival_at for c in trace] == sorted(c.arrival_at for c in trace)
    assert sum(c.skill == "en" for c in trace) / len(trace) == pytest.approx(0.25, abs=0.02)
    assert sum(c.handle_s for c in trace) / len(trace) == pytest.approx(180.0, rel=0.03)
    assert all(c.patience_s is None and c.priority == 0 for c in trace)
    assert len({c.caller for c in trace}) == len(trace)
    per_hour = [0] * 24
    for c in trace:
        per_hour[int(c.arrival_at // 3600)] += 1
    shares = hourly_shares("workday")
    for hour in (3, 10, 12, 15, 22):  # night trough, peaks, lunch dip, evening
        assert per_hour[hour] / len(trace) == pytest.approx(shares[hour], abs=0.006)
    assert per_hour[10] > 1.5 * per_hour[12] and per_hour[3] < per_hour[10] / 20
    # Deterministic per seed.
    assert generate_trace(100, 60.0, {"zh": 1}, seed=4) == generate_trace(100, 60.0, {"zh": 1},
                                                                          seed=4)  # fmt: skip
    assert generate_trace(100, 60.0, {"zh": 1}, seed=4) != generate_trace(100, 60.0, {"zh": 1},
                                                                          seed=5)  # fmt: skip
    flat = generate_trace(24_000, 60.0, {"zh": 1}, shape="flat", seed=2)
    assert sum(c.arrival_at < 3600 for c in flat) == pytest.approx(1000, abs=100)


def test_skill_mix_follows_the_roster() -> None:
    roster = (RosterAgent("a", (("zh", 1), ("en", 2))), RosterAgent("b", (("zh", 1),)))
    assert skill_mix(roster) == {"en": 1 / 3, "zh": 2 / 3}


def test_planned_shifts_follow_the_load() -> None:
    profiles = (AgentProfile((("zh", 1),), 3), AgentProfile((("en", 1), ("zh", 2)), 1))
    roster = plan_roster(20_000, 200.0, profiles, max_seats=120)

    def on(hour: int) -> int:
        return sum(1 for a in roster if a.shift_start_s <= hour * 3600.0 < a.shift_end_s)

    assert on(10) > 5 * on(3) and max(on(h) for h in range(24)) <= 120
    assert all(0 < a.shift_end_s - a.shift_start_s <= 8 * 3600 for a in roster)
    assert all(a.shift_end_s <= 86400 for a in roster)
    en = sum(1 for a in roster if a.skills[0][0] == "en")
    assert en / len(roster) == pytest.approx(0.25, abs=0.05)
