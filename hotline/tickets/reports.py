"""The figures a hotline must report (统计分析) for a period of days, from the ticket store.

Days are Shanghai calendar days; ``--from 2026-10-08 --to 2026-10-09`` covers
[2026-10-08 00:00, 2026-10-10 00:00) Beijing time. Every figure is counted in SQL (integers) on
either database; the only floats are sums of stored wait times, rounded to 0.01 s, so SQLite and
PostgreSQL give the same report for the same rows.

Calls (``call_records``, by arrival time; definitions as in ``hotline.calls.metrics``):
  inbound       calls that reached 12345
  answered      calls an agent answered;      answer_rate = answered / inbound (接通率)
  offered       calls that entered the agent queue (callers who left in the IVR never asked)
  answered_within_15s / service_level_15s = answered with wait <= 15 s / offered
  asa_s         mean wait of answered offered calls;  longest_wait_s over offered calls
  abandoned     offered calls that hung up in the queue
  hours         the same per hour of the day (Beijing time), summed over the period's days

Tickets (``tickets`` and the ``ticket_events`` log):
  accepted      tickets created in the period (受理量)
  dispatched    tickets dispatched at least once in the period (转办量)
  closed        tickets answered directly or closed by their unit in the period (办结量);
                closed_direct and closed_by_unit split it
  closed_on_time  of closed_by_unit, those closed at or before the reply deadline in force
                (extensions included);  closed_on_time_rate = closed_on_time / closed_by_unit
  extended      tickets granted an extension in the period (延期)
  overdue_open  tickets still held by a unit and past their reply deadline at the end of the
                period, or now if earlier (超期未办结量: a stock, read from current states)
  satisfied / basically_satisfied / unsatisfied / unreachable: callback survey results
                recorded in the period; satisfaction_rate = (satisfied + basically_satisfied)
                / (every answered survey) (满意率)

The three rates (三率, Beijing's 接诉即办 measures), overall and per lead unit (``units``,
the unit an event concerns: ``ticket_events.unit``), next to the answer rate and the 15-s
service level:
  响应率 response_rate    of the dispatches (and re-dispatches) to the unit in the period,
                the share its first answer (sign for, return or dispute) came at or before
                the dispatch's return window; a dispatch unanswered and still within its
                window at the end of the period (or now) is not counted yet, one past it
                counts as not responded. Rows logged before migration 0011 (no window on
                the row) are judged against the ticket's current return deadline.
  解决率 resolution_rate  of the surveys in the period that asked "solved?", the share answered
                yes (an automated survey always asks; a human one may not)
  满意率 satisfaction_rate  as above, per unit
  score: the mean of the unit's rates that have a value (the ranking's default order)

After-call satisfaction (一次一评, ``call_records.satisfaction``, by arrival time):
  satisfied / basic / unsatisfied / no_answer  answers of callers asked after the agent hung up;
                rate = (satisfied + basic) / (satisfied + basic + unsatisfied);
                the same per agent and per skill
Linkage with 110/119/120/122 (``handoffs``, by the handoff's time):
  out           handoffs from 12345 to a service (IVR emergencies, agents' emergency transfers,
                three-way calls with a service), per service and per outcome
  in_from_110   calls 110 transferred to 12345; double_non those flagged 双非
A rate with a zero denominator is null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from hotline.base.daytypes import CENTRE_TZ
from hotline.base.db import UTCDateTime
from hotline.calls.models import CallRecordRow
from hotline.followup.models import HandoffRow
from hotline.tickets.models import TicketEventRow, TicketRow
from hotline.tickets.values import UNIT_OPEN_STATES, FieldError

TARGET_S = 15.0  # the national standard's longest wait for a human answer
MAX_DAYS = 366
FIRST_YEAR, LAST_YEAR = 1970, 2999
ONE_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @classmethod
    def parse(cls, first: object, last: object) -> Period:
        days = [_day(name, value) for name, value in (("from", first), ("to", last))]
        if days[1] < days[0]:
            raise FieldError("to", f"{days[1]} is before from {days[0]}")
        if (days[1] - days[0]).days >= MAX_DAYS:
            raise FieldError("to", f"a report covers at most {MAX_DAYS} days")
        return cls(days[0], days[1])

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=CENTRE_TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), CENTRE_TZ)


def _day(name: str, value: object) -> date:
    if not isinstance(value, str) or not value:
        raise FieldError(name, "give a date like 2026-10-08")
    try:
        if len(value) > 10:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise FieldError(name, f"{value[:40]!r} is not a date like 2026-10-08") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # 9999-12-31 + 1 day would overflow
        raise FieldError(name, f"{value} is outside the years {FIRST_YEAR}-{LAST_YEAR}")
    return day


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _utc_hour() -> ColumnElement[Any]:
    """PostgreSQL: an expression naming the UTC hour of arrival, cheap per row.

    Hours since the epoch, whatever the session time zone. Beijing hours are UTC hours + 8:
    China has had no daylight saving since 1991.
    """
    return func.floor(func.extract("epoch", CallRecordRow.arrived_at) / 3600)


def _beijing_hour(key: Any) -> int:
    utc_hour = int(key) % 24 if not isinstance(key, str) else int(key[11:13])
    return (utc_hour + 8) % 24


def _aggregates() -> list[ColumnElement[Any]]:
    """The call figures of a set of call records (one hour's), counted in SQL."""
    c = CallRecordRow
    offered = c.queued_at.is_not(None)
    served = and_(offered, c.answered_at.is_not(None))
    # FILTER instead of CASE: half the work per row on both databases.
    return [
        func.count().label("inbound"),
        func.count(c.answered_at).label("answered"),
        func.count(c.queued_at).label("offered"),
        func.count().filter(served, c.wait_s <= TARGET_S).label("in_target"),
        func.count().filter(served).label("served"),
        func.sum(c.wait_s).filter(served).label("wait_sum"),
        func.count().filter(offered, c.outcome == "abandoned_queue").label("abandoned"),
        func.max(c.wait_s).filter(offered).label("longest"),
    ]


def _hour_rows_grouped(engine: Engine, period: Period) -> list[tuple[Any, Any]]:
    """(UTC hour key, aggregates) per hour with calls: one GROUP BY (hash aggregation)."""
    c = CallRecordRow
    key = _utc_hour().label("key")
    stmt = (
        select(key, *_aggregates())
        .where(c.arrived_at >= period.start, c.arrived_at < period.end)
        .group_by(key)
    )
    with engine.connect() as conn:
        return [(row.key, row) for row in conn.execute(stmt)]


def _hour_rows_by_range(engine: Engine, period: Period) -> list[tuple[Any, Any]]:
    """SQLite: (UTC hour key, aggregates) per hour with calls, one range query per hour.

    SQLite has no hash aggregation: a GROUP BY on the hour sorts every call of the period in
    a temporary B-tree first (EXPLAIN QUERY PLAN: "USE TEMP B-TREE FOR GROUP BY"), more than
    half the report's time over a million calls. A range query per hour walks
    ix_call_records_arrived_at in order and only adds up. After an empty hour one index probe
    (the next arrival) skips to the next hour with calls, so a long, sparse period stays cheap.
    Keys are 'YYYY-MM-DD HH' in UTC.
    """
    c = CallRecordRow
    lo, hi = bindparam("lo", type_=UTCDateTime()), bindparam("hi", type_=UTCDateTime())
    hour = select(*_aggregates()).where(c.arrived_at >= lo, c.arrived_at < hi)
    next_arrival = select(func.min(c.arrived_at)).where(c.arrived_at >= lo, c.arrived_at < hi)
    end = period.end.astimezone(UTC)
    at = period.start.astimezone(UTC)  # Beijing midnight: a whole UTC hour
    rows = []
    with engine.connect() as conn:
        while at < end:
            until = min(at + ONE_HOUR, end)
            row = conn.execute(hour, {"lo": at, "hi": until}).one()
            if row.inbound:
                rows.append((at.strftime("%Y-%m-%d %H"), row))
                at = until
                continue
            first: datetime | None = conn.scalar(next_arrival, {"lo": until, "hi": end})
            if first is None:
                break
            at = max(until, first.astimezone(UTC).replace(minute=0, second=0, microsecond=0))
    return rows


def _call_rows(engine: Engine, period: Period) -> dict[int, list[Any]]:
    """Per Beijing hour of the day, the aggregate rows of the UTC hours that fall in it."""
    if engine.dialect.name == "sqlite":
        keyed = _hour_rows_by_range(engine, period)
    else:
        keyed = _hour_rows_grouped(engine, period)
    by_hour: dict[int, list[Any]] = {}
    for key, row in sorted(keyed, key=lambda pair: str(pair[0])):
        by_hour.setdefault(_beijing_hour(key), []).append(row)
    return by_hour


def _call_figures(rows: list[Any]) -> dict[str, Any]:
    def total(name: str) -> int:
        return sum(int(getattr(r, name) or 0) for r in rows)

    served, wait_sum = total("served"), sum(float(r.wait_sum or 0.0) for r in rows)
    longest = max((float(r.longest) for r in rows if r.longest is not None), default=None)
    return {
        "inbound": total("inbound"),
        "answered": total("answered"),
        "answer_rate": _rate(total("answered"), total("inbound")),
        "offered": total("offered"),
        "answered_within_15s": total("in_target"),
        "service_level_15s": _rate(total("in_target"), total("offered")),
        "asa_s": round(wait_sum / served, 2) if served else None,
        "abandoned": total("abandoned"),
        "longest_wait_s": None if longest is None else round(longest, 2),
    }


def _events(engine: Engine, period: Period, actions: tuple[str, ...], *extra: Any) -> int:
    ev = TicketEventRow
    stmt = select(func.count(func.distinct(ev.ticket_id))).where(
        ev.action.in_(actions), ev.at >= period.start, ev.at < period.end, *extra
    )
    with engine.connect() as conn:
        return int(conn.scalar(stmt) or 0)


def _ticket_figures(engine: Engine, period: Period, now: datetime) -> dict[str, Any]:
    t, ev = TicketRow, TicketEventRow
    as_of = min(now, period.end)
    accepted = select(func.count()).where(t.created_at >= period.start, t.created_at < period.end)
    overdue = select(func.count()).where(
        t.state.in_([s.value for s in UNIT_OPEN_STATES]), t.reply_due_at < as_of
    )
    with engine.connect() as conn:
        n_accepted = int(conn.scalar(accepted) or 0)
        n_overdue = int(conn.scalar(overdue) or 0)
    outcomes = [str(data.get("outcome")) for _unit, data in _surveys(engine, period)]
    by_unit = _events(engine, period, ("CloseByUnit",))
    on_time = _events(engine, period, ("CloseByUnit",), ev.due_at.is_not(None), ev.at <= ev.due_at)
    satisfied, unsatisfied = outcomes.count("satisfied"), outcomes.count("unsatisfied")
    basically = outcomes.count("basically_satisfied")
    return {
        "accepted": n_accepted,
        "dispatched": _events(engine, period, ("Dispatch",)),
        "closed": _events(engine, period, ("AnswerDirectly", "CloseByUnit")),
        "closed_direct": _events(engine, period, ("AnswerDirectly",)),
        "closed_by_unit": by_unit,
        "closed_on_time": on_time,
        "closed_on_time_rate": _rate(on_time, by_unit),
        "extended": _events(engine, period, ("GrantExtension",)),
        "overdue_open": n_overdue,
        "satisfied": satisfied,
        "basically_satisfied": basically,
        "unsatisfied": unsatisfied,
        "unreachable": outcomes.count("unreachable"),
        "satisfaction_rate": _rate(satisfied + basically, satisfied + basically + unsatisfied),
    }


_ANSWERS = ("satisfied", "basic", "unsatisfied")


def _answers(counts: Mapping[str, int]) -> dict[str, Any]:
    got = {a: int(counts.get(a, 0)) for a in _ANSWERS}
    rated = sum(got.values())
    return {
        **got,
        "no_answer": int(counts.get("none", 0)),
        "rate": _rate(got["satisfied"] + got["basic"], rated),
    }


def _satisfaction(engine: Engine, period: Period) -> dict[str, Any]:
    """一次一评 answers overall, per agent and per skill."""
    c = CallRecordRow
    stmt = (
        select(c.agent_id, c.skill, c.satisfaction, func.count())
        .where(c.arrived_at >= period.start, c.arrived_at < period.end, c.satisfaction != "")
        .group_by(c.agent_id, c.skill, c.satisfaction)
    )
    total: dict[str, int] = {}
    agents: dict[str, dict[str, int]] = {}
    skills: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for agent, skill, answer, n in conn.execute(stmt):
            for bucket in (total, agents.setdefault(agent or "", {}),
                           skills.setdefault(skill or "", {})):  # fmt: skip
                bucket[answer] = bucket.get(answer, 0) + int(n)
    return {
        **_answers(total),
        "agents": {a: _answers(v) for a, v in sorted(agents.items())},
        "skills": {s: _answers(v) for s, v in sorted(skills.items())},
    }


def _linkage(engine: Engine, period: Period) -> dict[str, Any]:
    """Handoffs with 110/119/120/122, both ways."""
    h = HandoffRow
    stmt = (
        select(h.direction, h.service, h.outcome, h.double_non, func.count())
        .where(h.at >= period.start, h.at < period.end)
        .group_by(h.direction, h.service, h.outcome, h.double_non)
    )
    out: dict[str, dict[str, int]] = {}
    inbound = double_non = 0
    with engine.connect() as conn:
        for direction, service, outcome, flag, n in conn.execute(stmt):
            if direction == "in":
                inbound += int(n)
                double_non += int(n) if flag else 0
                continue
            per = out.setdefault(service, {})
            per[outcome] = per.get(outcome, 0) + int(n)
    return {
        "out": sum(sum(v.values()) for v in out.values()),
        "out_by_service": {
            s: {"total": sum(v.values()), **dict(sorted(v.items()))} for s, v in sorted(out.items())
        },
        "in_from_110": inbound,
        "double_non": double_non,
    }


RESPONSES = ("SignFor", "Return", "Dispute")
DISPATCHES = ("Dispatch", "Redispatch")


def _surveys(engine: Engine, period: Period) -> list[tuple[str | None, dict[str, Any]]]:
    """(unit, data) of the survey attempts in the period; the JSON is read in Python, so both
    databases give the same figures."""
    ev = TicketEventRow
    stmt = select(ev.unit, ev.data).where(
        ev.action == "RecordSurvey", ev.at >= period.start, ev.at < period.end
    )
    with engine.connect() as conn:
        return [(unit, dict(data or {})) for unit, data in conn.execute(stmt)]


def _responses(
    engine: Engine, period: Period, as_of: datetime
) -> dict[str | None, tuple[int, int]]:
    """Per unit: (dispatches in the period that are due, those answered by the deadline)."""
    d, a, t = aliased(TicketEventRow), aliased(TicketEventRow), TicketRow
    # The event after a dispatch is the unit's answer (the lifecycle allows nothing else from
    # dispatched but a merge): one self-join on seq + 1, the same on both databases.
    due = func.coalesce(d.respond_due_at, a.respond_due_at, t.return_due_at)
    in_time = and_(a.id.is_not(None), a.at <= due)
    # Unanswered and still within its window at the end of the period (or now): not yet due.
    pending = and_(a.id.is_(None), d.respond_due_at.is_not(None), d.respond_due_at > as_of)
    stmt = (
        select(d.unit, func.count(d.id).filter(~pending), func.count(d.id).filter(in_time))
        .select_from(d)
        .join(t, t.id == d.ticket_id)
        .outerjoin(a, and_(a.ticket_id == d.ticket_id, a.seq == d.seq + 1, a.action.in_(RESPONSES)))
        .where(d.action.in_(DISPATCHES), d.at >= period.start, d.at < period.end)
        .group_by(d.unit)
    )
    with engine.connect() as conn:
        return {unit: (int(n), int(ok)) for unit, n, ok in conn.execute(stmt)}


def _rates(dispatched: int, responded: int, surveys: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [s for s in surveys if s.get("outcome") != "unreachable"]
    happy = [s for s in answered if s.get("outcome") in ("satisfied", "basically_satisfied")]
    asked = [s for s in answered if s.get("solved") is not None]
    solved = [s for s in asked if s.get("solved") is True]
    rates = {
        "dispatched": dispatched,
        "responded_in_time": responded,
        "response_rate": _rate(responded, dispatched),
        "surveyed": len(answered),
        "asked_solved": len(asked),
        "solved": len(solved),
        "resolution_rate": _rate(len(solved), len(asked)),
        "satisfied": len(happy),
        "satisfaction_rate": _rate(len(happy), len(answered)),
    }
    present = [rates[k] for k in ("response_rate", "resolution_rate", "satisfaction_rate")]
    values = [v for v in present if v is not None]
    rates["score"] = round(sum(values) / len(values), 4) if values else None
    return rates


def three_rates(engine: Engine, period: Period, now: datetime) -> dict[str, Any]:
    """响应率, 解决率, 满意率 overall and per unit (units sorted by name); ``now`` tells the
    dispatches still within their window (not yet due) from the late ones."""
    as_of = min(now, period.end)
    responses, surveys = _responses(engine, period, as_of), _surveys(engine, period)
    units = sorted({u for u in responses if u} | {u for u, _ in surveys if u})
    per_unit = []
    for unit in units:
        n, ok = responses.get(unit, (0, 0))
        per_unit.append({"unit": unit, **_rates(n, ok, [d for u, d in surveys if u == unit])})
    total_n = sum(n for n, _ in responses.values())
    total_ok = sum(ok for _, ok in responses.values())
    return {"overall": _rates(total_n, total_ok, [d for _, d in surveys]), "units": per_unit}


RANK_KEYS = ("score", "response_rate", "resolution_rate", "satisfaction_rate")


def ranking(units: list[dict[str, Any]], by: str = "score") -> list[dict[str, Any]]:
    """Units best first by ``by``; a unit without a value for it comes last, ties by name."""
    if by not in RANK_KEYS:
        raise FieldError("by", f"{by[:40]!r} is not one of {', '.join(RANK_KEYS)}")
    ordered = sorted(units, key=lambda u: (u[by] is None, -(u[by] or 0.0), u["unit"]))
    return [{"rank": i, **u} for i, u in enumerate(ordered, start=1)]


def build_report(engine: Engine, period: Period, now: datetime) -> dict[str, Any]:
    """The report as a JSON-ready dict (``now`` bounds the overdue stock)."""
    by_hour = _call_rows(engine, period)
    hours = [{"hour": h, **_call_figures(by_hour.get(h, []))} for h in range(24)]
    rows = [row for h in sorted(by_hour) for row in by_hour[h]]
    return {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "time_zone": "Asia/Shanghai",
            "as_of": min(now, period.end).astimezone(CENTRE_TZ).isoformat(),
        },
        "calls": _call_figures(rows),
        "tickets": _ticket_figures(engine, period, now),
        "after_call_satisfaction": _satisfaction(engine, period),
        "linkage": _linkage(engine, period),
        "three_rates": three_rates(engine, period, now),
        "hours": hours,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _satisfaction_lines(s: Mapping[str, Any] | None) -> list[str]:
    if not s:
        return []

    def one(name: str, a: Mapping[str, Any]) -> str:
        return (
            f"  {name:<16} {_pct(a['rate']):>8}   satisfied {a['satisfied']}, basic {a['basic']}, "
            f"unsatisfied {a['unsatisfied']}, no answer {a['no_answer']}"
        )

    lines = ["after-call satisfaction (一次一评)", one("all", s)]
    lines += [one(f"agent {k}", v) for k, v in s["agents"].items()]
    lines += [one(f"skill {k}", v) for k, v in s["skills"].items()]
    return [*lines, ""]


def _linkage_lines(link: Mapping[str, Any] | None) -> list[str]:
    if not link:
        return []
    lines = [
        f"linkage 110/119/120/122: out {link['out']}   in from 110 {link['in_from_110']} "
        f"(双非 {link['double_non']})"
    ]
    for service, per in link["out_by_service"].items():
        rest = ", ".join(f"{k} {v}" for k, v in per.items() if k != "total")
        lines.append(f"  to {service}: {per['total']} ({rest})")
    return [*lines, ""]


def format_report(report: Mapping[str, Any]) -> str:
    """Plain text for the console."""
    p, c, t = report["period"], report["calls"], report["tickets"]
    o = report["three_rates"]["overall"]
    lines = [
        f"12345 hotline report {p['from']} .. {p['to']} ({p['time_zone']})",
        "",
        f"inbound calls      {c['inbound']:>8}   answered {c['answered']} "
        f"({_pct(c['answer_rate'])} answer rate)",
        f"service level 15 s {_pct(c['service_level_15s']):>8}   of {c['offered']} offered; "
        f"ASA {c['asa_s'] if c['asa_s'] is not None else '-'} s; "
        f"abandoned {c['abandoned']}; longest wait {c['longest_wait_s'] or '-'} s",
        "",
        f"accepted {t['accepted']}   dispatched {t['dispatched']}   closed {t['closed']} "
        f"(direct {t['closed_direct']}, by unit {t['closed_by_unit']})",
        f"closed on time {t['closed_on_time']} ({_pct(t['closed_on_time_rate'])})   "
        f"extended {t['extended']}   overdue and open {t['overdue_open']}",
        f"satisfaction {_pct(t['satisfaction_rate'])}   (satisfied {t['satisfied']}, "
        f"basically {t['basically_satisfied']}, unsatisfied {t['unsatisfied']}, "
        f"unreachable {t['unreachable']})",
        "",
        "three rates (三率)  answer rate 接通率 "
        f"{_pct(c['answer_rate'])}   service level 15 s {_pct(c['service_level_15s'])}",
        f"{'unit':<24} {'响应率':>8} {'解决率':>8} {'满意率':>8}   dispatched  surveyed",
        _rate_line("(all units)", o),
        *[_rate_line(u["unit"], u) for u in report["three_rates"]["units"]],
        "",
        *_satisfaction_lines(report.get("after_call_satisfaction")),
        *_linkage_lines(report.get("linkage")),
        "hour  inbound  offered  answered  SL 15 s    ASA s  abandoned",
    ]
    for h in report["hours"]:
        if h["inbound"]:
            asa = "-" if h["asa_s"] is None else f"{h['asa_s']:.2f}"
            lines.append(
                f"{h['hour']:02d}    {h['inbound']:>7}  {h['offered']:>7}  {h['answered']:>8}  "
                f"{_pct(h['service_level_15s']):>7}  {asa:>7}  {h['abandoned']:>9}"
            )
    return "\n".join(lines)


def _rate_line(name: str, r: Mapping[str, Any]) -> str:
    return (
        f"{name[:24]:<24} {_pct(r['response_rate']):>11} {_pct(r['resolution_rate']):>11} "
        f"{_pct(r['satisfaction_rate']):>11}   {r['dispatched']:>10}  {r['surveyed']:>8}"
    )
