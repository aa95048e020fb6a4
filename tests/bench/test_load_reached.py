"""The load bench's verdict per topology: the concurrency reached while meeting the goals and
the ratio two nodes / one node (bench/load.py). Figures, not timings, are judged here: the
bench itself never passes or fails."""

from __future__ import annotations

from bench.load import StepFigures, limits, missed_goals, reached_at, reached_lines


def _fig(topology: str = "", **values: object) -> StepFigures:
    fig = StepFigures("ours", 100, 67, topology, placed=150, answered=150, failed=0)
    fig.dispatch = [0.02] * 20
    fig.ami_lag_p99 = 0.05
    fig.records = 150
    fig.recordings = fig.recordings_loud = 150
    for key, value in values.items():
        setattr(fig, key, value)
    return fig


def test_a_step_meets_the_goals_only_with_every_call_recorded_and_fast_dispatch() -> None:
    assert missed_goals(_fig()) == []
    assert missed_goals(_fig(failed=2)) == ["2 failed calls"]
    assert missed_goals(_fig(dispatch=[0.02] * 18 + [0.3] * 2)) == ["dispatch p95 300 ms > 100 ms"]
    assert missed_goals(_fig(dispatch=[0.3] * 20), dispatch=False) == []
    assert missed_goals(_fig(ami_lag_p99=0.26)) == ["AMI lag p99 260 ms > 250 ms"]
    assert missed_goals(_fig(records=149)) == ["149 call records for 150 calls"]
    assert missed_goals(_fig(recordings_loud=149)) == ["1 answered calls without a sound recording"]


def test_a_busy_part_is_a_limit_but_not_a_missed_goal() -> None:
    fig = _fig("two", cpu={"engine": 40.0, "Asterisk b": 95.0, "phones": 20.0, "machine": 200.0})
    assert missed_goals(fig) == []
    assert limits(fig) == ["Asterisk b at 95 % of a core"]


def test_the_concurrency_reached_stops_at_the_first_step_that_missed() -> None:
    assert reached_at([(50, True), (100, True), (150, False), (200, True)]) == 100
    assert reached_at([(50, False), (100, True)]) is None
    assert reached_at([]) is None


def test_the_ratio_two_nodes_to_one() -> None:
    lines = reached_lines(
        {"one node": [(50, True), (100, False)], "two nodes": [(50, True), (100, True)]}
    )
    assert "one node 50, two nodes >= 100 (every step met them)" in lines[0]
    # Two met every step: its limit is higher still, so the ratio is a lower bound.
    assert (
        lines[1] == "ratio two nodes / one node at the goals: >= 2.00 (two nodes 100 / one node 50)"
    )
    lines = reached_lines(
        {"one node": [(50, True), (100, True), (150, False)],
         "two nodes": [(50, True), (100, True), (150, False)]}
    )  # fmt: skip
    assert lines[1].endswith(": 1.00 (two nodes 100 / one node 100)")
    lines = reached_lines({"one node": [(50, True)], "two nodes": [(50, True)]})
    assert "neither reached a limit" in lines[1]
    lines = reached_lines({"one node": [(50, False)], "two nodes": [(50, True)]})
    assert "one node none" in lines[0] and "missed the goals at the first step" in lines[1]


def test_one_asterisk_gets_no_ratio_line() -> None:
    lines = reached_lines({"ours": [(50, True), (100, False)], "app_queue": [(50, True)]})
    assert len(lines) == 1 and lines[0].endswith("ours 50, app_queue >= 50 (every step met them)")
