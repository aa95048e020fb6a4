"""`hotline simulate` end to end on small files: figures, generation, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hotline.app.cli import main
from hotline.simulation.files import read_trace

FIELDS = ["offered", "answered", "abandoned", "called_back", "service_level_15s", "answer_rate",
          "served_rate", "asa_s", "max_wait_s"]  # fmt: skip
ROSTER = """agent,skills,shift_start_s,shift_end_s
1001,zh:1;social:2,0,
1002,zh:1,0,600
1003,social:1;zh:3,60,
"""


def trace_text() -> str:
    lines = ["arrival_time_s,caller,skill,priority,patience_s,handle_time_s"]
    for n in range(60):
        skill = "social" if n % 3 == 0 else "zh"
        lines.append(f"{n * 13.5},1380000{n:04d},{skill},{n % 5 == 0:d},{40 + n % 7 * 10},"
                     f"{60 + (n * 37) % 120}")  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "trace.csv").write_text(trace_text(), encoding="utf-8")
    (tmp_path / "plain.toml").write_text(
        f'[paths]\nstate_dir = "{tmp_path}"\n[acd]\nwrapup_s = 5\n'
        "missed_callback_after_s = false\n",  # plain routing: no callbacks (issue 17 defaults)
        encoding="utf-8",
    )
    (tmp_path / "callbacks.toml").write_text(
        f'[paths]\nstate_dir = "{tmp_path}"\n[acd]\nwrapup_s = 5\nmissed_callback_after_s = 10\n'
        "offer_callback_after_s = 30\ncallback_ring_s = 20\n",
        encoding="utf-8",
    )
    return {p.stem: p for p in tmp_path.iterdir()}


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def figures(capsys: pytest.CaptureFixture[str], *args: str | Path) -> dict[str, Any]:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def check(data: dict[str, Any], skills: set[str]) -> None:
    assert list(data) == ["overall", "by_skill"] and set(data["by_skill"]) == skills
    for f in (data["overall"], *data["by_skill"].values()):
        assert list(f) == FIELDS
        # A call is answered, abandoned, or neither (a callback accepted); called back after
        # an abandon or an accepted callback, never after an answer.
        assert f["answered"] + f["abandoned"] <= f["offered"]
        assert f["answered"] + f["called_back"] <= f["offered"]
        assert 0 <= f["service_level_15s"] <= f["answer_rate"] <= f["served_rate"] <= 1
        assert f["answer_rate"] == pytest.approx(f["answered"] / f["offered"])
        assert f["served_rate"] == pytest.approx((f["answered"] + f["called_back"]) / f["offered"])
        assert f["asa_s"] <= f["max_wait_s"]
    for name in ("offered", "answered", "abandoned", "called_back"):
        assert data["overall"][name] == sum(f[name] for f in data["by_skill"].values())


def test_a_trace_through_both_policies(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("-c", files["plain"], "simulate", "--roster", files["roster"], "--trace",
            files["trace"])  # fmt: skip
    ours = figures(capsys, *base)
    check(ours, {"zh", "social"})
    assert ours["overall"]["offered"] == 60 and ours["overall"]["called_back"] == 0
    assert ours["overall"]["abandoned"] > 0  # three agents are too few: some give up
    assert figures(capsys, *base) == ours  # deterministic
    fifo = figures(capsys, *base, "--policy", "fifo-per-queue", "--ring-delay", "2")
    check(fifo, {"zh", "social"})
    assert fifo != ours
    code, out, _ = run(capsys, *base)
    assert code == 0 and "60 calls, 3 agents, policy ours" in out
    assert "SL 15 s" in out and "social" in out and out.count("\n") == 6


def test_callbacks_from_the_configured_policy_count_as_served(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = figures(capsys, "-c", files["callbacks"], "simulate", "--roster", files["roster"],
                   "--trace", files["trace"], "--callback-accept", "0.5",
                   "--callback-answer", "0.8", "--seed", "2")  # fmt: skip
    check(data, {"zh", "social"})
    overall = data["overall"]
    assert overall["called_back"] > 0 and overall["served_rate"] > overall["answer_rate"]


def test_a_generated_day_and_its_saved_trace_give_the_same_figures(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "day.csv"
    gen = ("-c", files["plain"], "simulate", "--roster", files["roster"], "--calls-per-day",
           "400", "--aht", "90", "--day-shape", "workday", "--patience", "60")  # fmt: skip
    day = figures(capsys, *gen, "--save-trace", saved, "--seed", "7")
    check(day, {"zh", "social"})
    assert day["overall"]["offered"] == 400 and len(read_trace(saved)) == 400
    replay = figures(capsys, "-c", files["plain"], "simulate", "--roster", files["roster"],
                     "--trace", saved, "--seed", "7")  # fmt: skip
    assert replay == day
    assert figures(capsys, *gen, "--seed", "8") != day


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace", "BAD"], "line 2, column 5 (patience_s): 'abc' is not a number"),
        (["--trace", "TRACE", "--roster", "BADROSTER"], "line 2, column 2 (skills)"),
        (["--trace", "MISSING"], "cannot read it"),
        ([], "give --trace TRACE.csv, or --calls-per-day N and --aht SECONDS"),
        (["--trace", "TRACE", "--aht", "5"], "not with --trace"),
        (["--trace", "TRACE", "--ring-delay", "99"], "--ring-delay must be within 0..15"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_status_2(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "bad.csv").write_text(trace_text().replace(",40,", ",abc,", 1), encoding="utf-8")
    (tmp_path / "badroster.csv").write_text(ROSTER.replace("zh:1;", "zh:one;"), encoding="utf-8")
    names = {"BAD": tmp_path / "bad.csv", "BADROSTER": tmp_path / "badroster.csv",
             "TRACE": files["trace"], "MISSING": tmp_path / "nope.csv"}  # fmt: skip
    argv = [str(names.get(a, a)) for a in args]
    if "--roster" not in argv:
        argv += ["--roster", str(files["roster"])]
    code, out, err = run(capsys, "-c", files["plain"], "simulate", *argv)
    assert code == 2 and out == ""
    assert err.startswith("hotline simulate: ") and message in err
    if args and args[-1] in ("BAD", "BADROSTER"):
        assert str(names[args[-1]]) in err


def test_the_installed_command_exits_2_without_a_traceback(
    files: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("arrival_time_s,caller,skill\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(files["plain"]), "simulate", "--roster",
         str(files["roster"]), "--trace", str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}, line 1: missing column(s) priority, patience_s, handle_time_s" in proc.stderr
