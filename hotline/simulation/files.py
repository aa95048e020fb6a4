"""The simulator's files: call traces and agent rosters as CSV, and generated days.

Trace CSV (one call a line)::

    arrival_time_s,caller,skill,priority,patience_s,handle_time_s
    0.0,13800000001,zh,0,90,185.5

``arrival_time_s`` seconds from the start of the run (>= 0); ``caller`` the caller's number
(empty: a caller seen nowhere else); ``priority`` an int, higher served first (empty: 0);
``patience_s`` how long the caller waits before hanging up (empty or ``inf``: for ever);
``handle_time_s`` talk time (> 0).

Roster CSV (one agent a line)::

    agent,skills,shift_start_s,shift_end_s
    1001,zh:1;social:2,28800,57600

``skills`` are ``name:level`` pairs separated by ``;``, level 1..10, 1 the best (a bare name is
level 1); shift times are seconds from the start of the run or ``HH:MM[:SS]`` (empty start:
0; empty end: the end of the run); one shift per agent.

A file that does not fit raises ``SimFileError``, which names the file, the line and the
column. Columns may come in any order; unknown, missing or repeated columns are errors.

Generated days (``generate_trace``): exactly ``calls`` calls, arrival times drawn independently
from a day shape (24 hourly weights, piecewise constant within the hour: for a given total
count, that is a Poisson process with that intraday rate), skills drawn from a mix, handle
times exponential with mean ``aht_s``, patience exponential with mean ``mean_patience_s``
(or none). ``workday`` is a 12345-like weekday: almost nothing at night, a steep rise from
07:00, the morning peak at 09:00-11:00, a lunch dip, the afternoon peak at 14:00-16:00, a slow
evening decline.
"""

from __future__ import annotations

import csv
import io
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hotline.acd.core import MAX_LEVEL, MIN_LEVEL
from hotline.acd.erlang import agents_for_service_level
from hotline.simulation.simulator import RosterAgent, TraceCall

TRACE_COLUMNS = ("arrival_time_s", "caller", "skill", "priority", "patience_s", "handle_time_s")
ROSTER_COLUMNS = ("agent", "skills", "shift_start_s", "shift_end_s")
DAY_S = 86400.0

# Share of the day's calls in each hour, 00:00 first (normalised when used).
DAY_SHAPES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    "workday": (
        0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.8, 2.2,  # 00-07: night trough, early risers
        6.0, 8.6, 9.0, 8.0, 5.2, 6.4, 8.4, 8.6,  # 08-15: morning peak, lunch dip, afternoon
        7.8, 5.6, 3.6, 3.0, 2.6, 2.0, 1.4, 0.9,  # 16-23: the evening decline
    ),
}  # fmt: skip


MAX_TRACE_S = 31 * 86400.0
"""Latest arrival and longest handle time in a trace: the simulator's clock ticks through the
whole run, so a stray 1e9 would keep it busy for days instead of giving an answer."""


class SimFileError(ValueError):
    """A trace or roster file that cannot be used; says where."""

    def __init__(self, path: Path | str, line: int | None, column: str | None, problem: str):
        self.path, self.line, self.column, self.problem = Path(path), line, column, problem
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {problem}")


# --- reading --------------------------------------------------------------------------------


def _rows(path: Path, columns: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, {column: text}) of each non-blank data line, after checking the header."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SimFileError(path, None, None, f"cannot read it: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SimFileError(path, line, None, "not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise SimFileError(path, 1, None, f"empty; the header is {','.join(columns)}")
        for n, name in enumerate(header, 1):
            if name not in columns:
                known = ",".join(columns)
                raise SimFileError(path, 1, f"{n} ({name})", f"unknown; the columns are {known}")
            if header.index(name) != n - 1:
                raise SimFileError(path, 1, f"{n} ({name})", "the column is there twice")
        missing = [c for c in columns if c not in header]
        if missing:
            raise SimFileError(path, 1, None, f"missing column(s) {', '.join(missing)}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                n = min(len(row), len(header)) + 1
                col = header[n - 1] if n <= len(header) else None
                raise SimFileError(
                    path, reader.line_num, f"{n}" + (f" ({col})" if col else ""),
                    f"{len(row)} fields, the header has {len(header)}",
                )  # fmt: skip
            yield (
                reader.line_num,
                {name: cell.strip() for name, cell in zip(header, row, strict=True)},
            )
    except csv.Error as exc:
        raise SimFileError(path, reader.line_num, None, f"not valid CSV: {exc}") from None


class _Cell:
    """Parses the cells of one line; errors name the file, line and column."""

    def __init__(self, path: Path, line: int, row: dict[str, str]):
        self.path, self.line, self.row = path, line, row

    def error(self, column: str, problem: str) -> SimFileError:
        number = list(self.row).index(column) + 1  # the row keeps the file's column order
        return SimFileError(self.path, self.line, f"{number} ({column})", problem)

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.row[column]
        if required and not value:
            raise self.error(column, "empty")
        return value

    def number(self, column: str, *, low: float = 0.0, positive: bool = False,
               default: float | None = None, times: bool = False) -> float:  # fmt: skip
        value = self.row[column]
        if not value and default is not None:
            return default
        parsed = _clock(value) if times else None
        if parsed is None:
            try:
                parsed = float(value)
            except ValueError:
                kind = "a number of seconds or HH:MM" if times else "a number"
                raise self.error(column, f"{value!r} is not {kind}") from None
        if math.isnan(parsed) or parsed < low or (positive and parsed <= 0):
            bound = f"> {low:g}" if positive else f">= {low:g}"
            raise self.error(column, f"{value!r} must be {bound}")
        return parsed


def _clock(text: str) -> float | None:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if match is None:
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600.0 + minutes * 60.0 + seconds if minutes < 60 and seconds < 60 else None


def read_trace(path: Path | str) -> tuple[TraceCall, ...]:
    """The calls of a trace CSV, in file order (the simulator sorts them by arrival)."""
    path = Path(path)
    calls: list[TraceCall] = []
    for line, row in _rows(path, TRACE_COLUMNS):
        cell = _Cell(path, line, row)
        arrival = cell.number("arrival_time_s")
        if not arrival <= MAX_TRACE_S:  # the virtual clock ticks through every second of it
            raise cell.error("arrival_time_s", f"must be at most {MAX_TRACE_S:g} s (31 days)")
        prio_text = cell.text("priority")
        try:
            priority = int(prio_text) if prio_text else 0
        except ValueError:
            raise cell.error("priority", f"{prio_text!r} is not an integer") from None
        patience = cell.number("patience_s", positive=True, default=math.inf)
        handle = cell.number("handle_time_s", positive=True)
        if not handle <= MAX_TRACE_S:
            raise cell.error("handle_time_s", f"must be at most {MAX_TRACE_S:g} s (31 days)")
        calls.append(TraceCall(arrival_at=arrival, skill=cell.text("skill", required=True),
                               priority=priority, handle_s=handle,
                               patience_s=None if math.isinf(patience) else patience,
                               caller=cell.text("caller")))  # fmt: skip
    if not calls:
        raise SimFileError(path, None, None, "no calls in it")
    return tuple(calls)


def parse_skills(text: str) -> tuple[tuple[str, int], ...]:
    """``zh:1;social:2`` -> (("zh", 1), ("social", 2)); ValueError says what is wrong."""
    skills: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        name, sep, level_text = (s.strip() for s in item.partition(":"))
        if not name:
            raise ValueError(f"{item!r} has no skill name")
        try:
            level = int(level_text) if sep else MIN_LEVEL
        except ValueError:
            raise ValueError(f"{item!r}: level {level_text!r} is not an integer") from None
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise ValueError(f"{item!r}: level must be {MIN_LEVEL}..{MAX_LEVEL} (1 is the best)")
        if any(name == known for known, _ in skills):
            raise ValueError(f"skill {name!r} is given twice")
        skills.append((name, level))
    if not skills:
        raise ValueError("no skills; write them like zh:1;social:2")
    return tuple(skills)


def read_roster(path: Path | str) -> tuple[RosterAgent, ...]:
    """The agents of a roster CSV, in file order."""
    path = Path(path)
    agents: list[RosterAgent] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, ROSTER_COLUMNS):
        cell = _Cell(path, line, row)
        agent = cell.text("agent", required=True)
        if agent in seen:
            raise cell.error("agent", f"{agent!r} is already on line {seen[agent]}: one shift "
                                      "per agent")  # fmt: skip
        seen[agent] = line
        try:
            skills = parse_skills(cell.text("skills"))
        except ValueError as exc:
            raise cell.error("skills", str(exc)) from None
        start = cell.number("shift_start_s", default=0.0, times=True)
        end = cell.number("shift_end_s", default=math.inf, times=True)
        if not start < end:
            raise cell.error("shift_end_s", f"the shift ends ({end:g}) before it starts "
                                            f"({start:g})")  # fmt: skip
        agents.append(RosterAgent(agent, skills, start, end))
    if not agents:
        raise SimFileError(path, None, None, "no agents in it")
    return tuple(agents)


# --- writing --------------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "" if value is None or math.isinf(value) else f"{value:.3f}".rstrip("0").rstrip(".")


def write_trace(path: Path | str, calls: Iterable[TraceCall]) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(TRACE_COLUMNS)
        for c in calls:
            out.writerow([_seconds(c.arrival_at), c.caller, c.skill, c.priority,
                          _seconds(c.patience_s), _seconds(c.handle_s)])  # fmt: skip


def write_roster(path: Path | str, agents: Iterable[RosterAgent]) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(ROSTER_COLUMNS)
        for a in agents:
            skills = ";".join(f"{name}:{level}" for name, level in a.skills)
            out.writerow([a.agent_id, skills, _seconds(a.shift_start_s), _seconds(a.shift_end_s)])


# --- generated days -------------------------------------------------------------------------


def hourly_shares(shape: str | Sequence[float]) -> tuple[float, ...]:
    """The 24 hourly shares of a named (``DAY_SHAPES``) or given day shape, summing to 1."""
    weights = DAY_SHAPES[shape] if isinstance(shape, str) else tuple(shape)
    if len(weights) != 24 or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("a day shape is 24 hourly weights >= 0, not all 0")
    total = sum(weights)
    return tuple(w / total for w in weights)


def skill_mix(agents: Iterable[RosterAgent]) -> dict[str, float]:
    """Calls per skill in proportion to the agents who have it (when the trace is generated
    for a roster and nothing better is known)."""
    counts: dict[str, int] = {}
    for agent in agents:
        for name, _ in agent.skills:
            counts[name] = counts.get(name, 0) + 1
    return {name: n / sum(counts.values()) for name, n in sorted(counts.items())}


def generate_trace(
    calls: int,
    aht_s: float,
    mix: Mapping[str, float],
    *,
    shape: str | Sequence[float] = "workday",
    mean_patience_s: float | None = None,
    seed: int = 0,
) -> tuple[TraceCall, ...]:
    """One day (86,400 s) of ``calls`` calls (see the module docstring), by arrival time."""
    if calls < 0 or aht_s <= 0 or not mix or min(mix.values()) < 0:
        raise ValueError("need calls >= 0, aht_s > 0 and a mix of skills with weights >= 0")
    shares = hourly_shares(shape)
    rng = {k: random.Random(f"{seed}/trace/{k}") for k in ("time", "skill", "handle", "pat")}
    hours = rng["time"].choices(range(24), weights=shares, k=calls)
    times = sorted(3600.0 * (h + rng["time"].random()) for h in hours)
    names = sorted(mix)
    skills = rng["skill"].choices(names, weights=[mix[n] for n in names], k=calls)
    out = []
    for n, (at, skill) in enumerate(zip(times, skills, strict=True), 1):
        handle = max(1.0, rng["handle"].expovariate(1.0 / aht_s))
        patience = (
            None if mean_patience_s is None else rng["pat"].expovariate(1.0 / mean_patience_s)
        )
        out.append(TraceCall(round(at, 3), skill, 0, round(handle, 3),
                             None if patience is None else round(max(patience, 0.001), 3),
                             caller=f"1{n:010d}"))  # fmt: skip
    return tuple(out)


@dataclass(frozen=True)
class AgentProfile:
    """A kind of agent in a planned roster: its skills and its share of the staff."""

    skills: tuple[tuple[str, int], ...]
    share: float


def plan_roster(
    calls: int,
    handle_s: float,
    profiles: Sequence[AgentProfile],
    *,
    shape: str | Sequence[float] = "workday",
    shift_h: int = 8,
    min_shift_h: int = 4,
    goal: float = 0.95,
    target_s: float = 15.0,
    margin: float = 0.0,
    max_seats: int | None = None,
) -> tuple[RosterAgent, ...]:
    """Shifts that follow a day's load: per hour, Erlang C's agents for ``goal`` within
    ``target_s`` (all calls pooled, ``handle_s`` including wrap-up), times ``1 + margin`` for
    what splitting the staff into skills costs, at most ``max_seats`` at once.

    Each hour, shifts that reached ``shift_h`` hours end; if more agents are on than the hour
    needs, the longest-working ones who did at least ``min_shift_h`` hours go home; if fewer,
    new shifts start. Everything ends at midnight. New agents are dealt out to the profiles by
    smooth weighted round robin, so every hour gets the mix."""
    need = []
    for share in hourly_shares(shape):
        rate = calls * share / 3600.0
        n = agents_for_service_level(rate, handle_s, target_s, goal) if rate > 0 else 1
        n = math.ceil(n * (1.0 + margin))
        need.append(min(n, max_seats) if max_seats is not None else n)
    credit = [0.0] * len(profiles)
    total_share = sum(p.share for p in profiles)
    on: list[tuple[int, int]] = []  # (start hour, profile), longest-working first
    shifts: list[tuple[int, int, int]] = []  # (start hour, end hour, profile)
    for hour in range(25):
        keep = []
        for start, pick in on:
            if hour == 24 or hour - start >= shift_h:
                shifts.append((start, hour, pick))
            else:
                keep.append((start, pick))
        on = keep
        if hour == 24:
            break
        going = len(on) - need[hour]
        stay = []
        for start, pick in on:
            if going > 0 and hour - start >= min_shift_h:
                shifts.append((start, hour, pick))
                going -= 1
            else:
                stay.append((start, pick))
        on = stay
        while len(on) < need[hour]:
            for i, p in enumerate(profiles):
                credit[i] += p.share
            pick = max(range(len(profiles)), key=lambda i: credit[i])
            credit[pick] -= total_share
            on.append((hour, pick))
    shifts.sort()
    return tuple(
        RosterAgent(f"ag{n:04d}", profiles[pick].skills, start * 3600.0, end * 3600.0)
        for n, (start, end, pick) in enumerate(shifts, 1)
    )
