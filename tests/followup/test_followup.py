"""Issue 17 without I/O: the satisfaction and survey IVR flows, elderly callers, the call
tracker's marks, the survey dialer's rules (hours, attempts, spacing, unreachable), the mapping
of a survey answer onto the lifecycle, the new AMI events and configuration checks."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hotline.asterisk.ami.events import (
    AgentLegAnswered,
    CallArrived,
    CallQueuedInAsterisk,
    ChannelHungUp,
    EmergencyRedirected,
    HandoffEnded,
    SatisfactionGiven,
    parse_event,
)
from hotline.base.settings import (
    ConfigError,
    ElderlyConfig,
    SatisfactionConfig,
    SurveyConfig,
    load_config,
)
from hotline.calls.tracker import CallTracker
from hotline.followup.dialer import SurveyDialer
from hotline.followup.flows import SatisfactionFlow, SurveyAnswer, SurveyCall, SurveyFlow
from hotline.followup.tickets import OUTCOMES, SURVEY_ACTOR, survey_note
from hotline.ivr.flow import DirectFlow, MenuFlow
from tests.ivr.test_ivr_flows import SKILLS, as_agi, chan, ivr_cfg

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Monday 11:00 in Beijing


# -- 一次一评 -----------------------------------------------------------------------------------
async def test_after_call_question_raises_the_answer_and_thanks() -> None:
    c = chan(["2"])
    await SatisfactionFlow(SatisfactionConfig())(as_agi(c))
    assert c.played == ["hotline/satisfaction", "hotline/thanks"]
    assert c.events == [("HotlineSatisfaction", {"CallId": "c1", "Answer": "basic"})]


async def test_after_call_question_no_key_or_a_wrong_key_is_none() -> None:
    for keys in ([None], ["9"]):
        c = chan(keys)
        await SatisfactionFlow(SatisfactionConfig())(as_agi(c))
        assert c.events == [("HotlineSatisfaction", {"CallId": "c1", "Answer": "none"})]
        assert c.played == ["hotline/satisfaction"]


async def test_after_call_question_switched_off_asks_nothing() -> None:
    c = chan(["1"])
    await SatisfactionFlow(SatisfactionConfig(after_call=False))(as_agi(c))
    assert c.played == [] and c.events == []


def tracked(*events: Any) -> Any:
    t = CallTracker(inbound_110=lambda caller, dialled: caller == "110")
    record = None
    for ev in events:
        _changed, done = t.feed(ev)
        record = done or record
    return record


def arrived(caller: str = "138") -> CallArrived:
    return CallArrived(at=100, call_id="c1", linked_id="c1", caller=caller, dialled="12345",
                       channel="PJSIP/trunk-1")  # fmt: skip


QUEUED = CallQueuedInAsterisk(at=101, call_id="c1", skill="general", priority=0, channel="x",
                              caller="138")  # fmt: skip
ANSWERED = AgentLegAnswered(at=102, call_id="c1", agent_id="1001", channel="y", unique_id="l1")
RATED = SatisfactionGiven(at=110, call_id="c1", answer="satisfied")
HUNG = ChannelHungUp(at=115, unique_id="c1", linked_id="c1", channel="x", cause=16, cause_text="")


def test_the_rating_is_kept_on_an_answered_call_only() -> None:
    assert tracked(arrived(), QUEUED, ANSWERED, RATED, HUNG).satisfaction == "satisfied"
    assert tracked(arrived(), QUEUED, RATED, HUNG).satisfaction == ""  # nobody answered
    gone = EmergencyRedirected(at=103, call_id="c1", dial="PJSIP/119@trunk")
    assert tracked(arrived(), QUEUED, ANSWERED, gone, RATED, HUNG).satisfaction == ""


def test_a_call_from_110_is_marked_double_non_unless_it_was_an_emergency() -> None:
    record = tracked(arrived("110"), QUEUED, ANSWERED, HUNG)
    assert (record.linkage, record.double_non) == ("from-110", True)
    gone = EmergencyRedirected(at=103, call_id="c1", dial="PJSIP/120@trunk")
    record = tracked(arrived("110"), QUEUED, gone, HUNG)
    assert (record.linkage, record.double_non) == ("from-110", False)
    assert tracked(arrived("139"), QUEUED, HUNG).linkage == ""


def test_the_new_user_events_parse() -> None:
    rated = parse_event({"Event": "UserEvent", "UserEvent": "HotlineSatisfaction",
                         "CallId": "c1", "Answer": "unsatisfied"}, 1.0)  # fmt: skip
    assert rated == SatisfactionGiven(at=1.0, call_id="c1", answer="unsatisfied")
    ended = parse_event({"Event": "UserEvent", "UserEvent": "HotlineHandoffEnded",
                         "CallId": "c1", "DialStatus": "ANSWER"}, 1.0)  # fmt: skip
    assert ended == HandoffEnded(at=1.0, call_id="c1", dial_status="ANSWER")


# -- elderly callers ---------------------------------------------------------------------------
ELDERLY = ElderlyConfig(numbers=["13900000001"], priority=6)


async def test_direct_flow_registered_elderly_hears_the_greeting_only_at_raised_priority() -> None:
    c = chan(["1"], HOTLINE_CALLER="13900000001")
    flow = DirectFlow(ivr_cfg(), "general", skills=SKILLS, elderly=ELDERLY)
    out = await flow.run(as_agi(c))
    assert c.played == ["hotline/greeting"]  # no speech invitation, no menu
    assert (out.priority, out.next, out.path) == (6, "queued", ["direct", "elderly:registered"])
    name, queued = c.events[0]
    assert name == "HotlineQueued" and queued["CallPriority"] == "6"


async def test_direct_flow_elderly_key_in_the_greeting_raises_the_priority() -> None:
    c = chan(["0"], HOTLINE_CALLER="13700000000")
    out = await DirectFlow(ivr_cfg(), "general", skills=SKILLS, elderly=ELDERLY).run(as_agi(c))
    assert (out.priority, out.path) == (6, ["direct", "elderly:key"])
    assert ("HotlineNeed", {"CallId": "c1", "Skill": "general", "CallPriority": "6"}) in c.events


async def test_menu_flow_elderly_skips_the_menu() -> None:
    c = chan([], HOTLINE_CALLER="13900000001")
    out = await MenuFlow(ivr_cfg(), "general", skills=SKILLS, elderly=ELDERLY).run(as_agi(c))
    assert c.played == ["hotline/greeting"]
    assert (out.priority, out.next, out.path) == (6, "queue", ["greeting", "elderly:registered"])
    c = chan(["0"], HOTLINE_CALLER="13700000000")  # 0 is the menu's "an agent": kept
    out = await MenuFlow(ivr_cfg(), "general", skills=SKILLS, elderly=ELDERLY).run(as_agi(c))
    assert (out.priority, out.path) == (0, ["greeting", "menu:0"])
    keyed = ElderlyConfig(numbers=[], key="8", priority=6)
    c = chan(["8"], HOTLINE_CALLER="13700000000")
    out = await MenuFlow(ivr_cfg(), "general", skills=SKILLS, elderly=keyed).run(as_agi(c))
    assert (out.priority, out.path) == (6, ["greeting", "elderly:key"])
    assert c.played == ["hotline/greeting"]


def test_bad_follow_up_settings_are_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"elderly\.key '9' is also a waiting key"):
        load_config(None, {"HOTLINE_ELDERLY__KEY": "9"})
    menu = {"HOTLINE_IVR__FLOW": "menu", "HOTLINE_ELDERLY__KEY": "1"}
    with pytest.raises(ConfigError, match=r"elderly\.key '1' is also a main-menu key"):
        load_config(None, {**menu, "HOTLINE_IVR__WAITING_KEYS": '{"9": {"action": "voicemail"}}'})
    with pytest.raises(ConfigError, match=r"elderly\.numbers"):
        load_config(None, {"HOTLINE_ELDERLY__NUMBERS": '["12a"]'})
    with pytest.raises(ConfigError, match=r"survey\.dial"):
        load_config(None, {"HOTLINE_SURVEY__DIAL": "PJSIP/1,2@x"})


# -- the survey ---------------------------------------------------------------------------------
async def test_survey_flow_asks_both_questions_and_reports_once() -> None:
    got: list[tuple[SurveyCall, SurveyAnswer | None]] = []

    async def done(call: SurveyCall, answer: SurveyAnswer | None) -> None:
        got.append((call, answer))

    vars_ = {"HOTLINE_SURVEY_TICKET": "202612070001", "HOTLINE_SURVEY_ATTEMPT": "2"}
    c = chan(["5", "2", "1"], **vars_)  # a wrong key first
    await SurveyFlow(SurveyConfig(), done)(as_agi(c))
    assert got == [(SurveyCall("202612070001", 2, "c1"), SurveyAnswer("basic", True))]
    assert c.played == [
        "hotline/survey-satisfaction", "hotline/invalid", "hotline/survey-satisfaction",
        "hotline/survey-solved", "hotline/thanks",
    ]  # fmt: skip
    got.clear()
    await SurveyFlow(SurveyConfig(), done)(as_agi(chan([None, None], **vars_)))
    assert got == [(SurveyCall("202612070001", 2, "c1"), None)]
    got.clear()  # rated, but the second question unanswered: no answer (both or none)
    await SurveyFlow(SurveyConfig(), done)(as_agi(chan(["1", None, None], **vars_)))
    assert got == [(SurveyCall("202612070001", 2, "c1"), None)]
    got.clear()
    bad = chan(["1", "1"], HOTLINE_SURVEY_TICKET="1;DROP", HOTLINE_SURVEY_ATTEMPT="1")
    await SurveyFlow(SurveyConfig(), done)(as_agi(bad))
    assert got == [] and bad.played == []


def test_a_survey_answer_maps_onto_the_lifecycle() -> None:
    assert OUTCOMES == {"satisfied": "satisfied", "basic": "basically_satisfied",
                        "unsatisfied": "unsatisfied"}  # fmt: skip
    assert survey_note(SurveyAnswer("basic", False)) == "ivr satisfaction=basic solved=no"
    assert SURVEY_ACTOR == "survey-ivr"


class FakeTickets:
    """The lifecycle's due rule in small: not reached fewer than 2 times, 600 s apart."""

    def __init__(self, waiting: list[tuple[str, str]], clock: list[float] | None = None) -> None:
        self.waiting = waiting
        self.clock = clock or [NOW.timestamp()]
        self.answers: list[tuple[str, SurveyAnswer, str]] = []
        self.missed: list[tuple[str, float]] = []

    def to_survey(self, limit: int) -> list[tuple[str, str]]:
        out = []
        for ticket, number in self.waiting[:limit]:
            mine = [at for t, at in self.missed if t == ticket]
            if len(mine) >= 2 or (mine and self.clock[0] - mine[-1] < 600):
                continue
            out.append((ticket, number))
        return out

    def answered(self, ticket: str, answer: SurveyAnswer, call_id: str, at: datetime) -> None:
        self.answers.append((ticket, answer, call_id))
        self.waiting = [w for w in self.waiting if w[0] != ticket]

    def not_reached(self, ticket: str, call_id: str, at: datetime) -> None:
        self.missed.append((ticket, at.timestamp()))


class FakeLog:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}

    def survey_attempts(self, ticket: str) -> list[dict[str, Any]]:
        return list(self.rows.get(ticket, []))

    def survey_placed(self, ticket: str, number: str, at: datetime) -> int:
        rows = self.rows.setdefault(ticket, [])
        rows.append({"attempt": len(rows) + 1, "placed_at": at, "outcome": "placed",
                     "satisfaction": "", "solved": None})  # fmt: skip
        return len(rows)

    def survey_ended(self, ticket: str, attempt: int, outcome: str, at: datetime,
                     satisfaction: str = "", solved: bool | None = None) -> None:  # fmt: skip
        row = self.rows[ticket][attempt - 1]
        row.update(outcome=outcome, satisfaction=satisfaction, solved=solved)


class FakeAmi:
    def __init__(self, reason: str = "3") -> None:
        self.sent: list[dict[str, Any]] = []
        self.reason = reason

    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any:
        self.sent.append(action)
        return [{"Response": "Failure", "Reason": self.reason}]


def dialer(tickets: FakeTickets, log: FakeLog, ami: FakeAmi, clock: list[float],
           **cfg: Any) -> SurveyDialer:  # fmt: skip
    settings = SurveyConfig(dial="PJSIP/{number}@trunk", retry_s=600, max_attempts=2, **cfg)
    return SurveyDialer(settings, tickets, log, ami, lambda d: d.weekday() < 5,
                        clock=lambda: clock[0])  # fmt: skip


async def test_the_dialer_calls_what_the_lifecycle_says_is_due_and_counts_misses() -> None:
    clock = [NOW.timestamp()]
    tickets, log, ami = FakeTickets([("T0001xx", "13800000000")], clock), FakeLog(), FakeAmi()
    d = dialer(tickets, log, ami, clock)
    assert await d.tick() == ["T0001xx"]
    await d.flush()
    action = ami.sent[0]
    assert action["Channel"] == "PJSIP/13800000000@trunk" and action["Context"] == "hotline-survey"
    assert "HOTLINE_SURVEY_ATTEMPT=1" in action["Variable"]
    assert log.rows["T0001xx"][0]["outcome"] == "no_answer"
    assert len(tickets.missed) == 1  # one attempt, not reached
    clock[0] += 60
    assert await d.tick() == []  # too soon after the first attempt
    clock[0] += 600
    assert await d.tick() == ["T0001xx"]
    await d.flush()
    clock[0] += 700
    assert await d.tick() == []  # two misses: the lifecycle's unreachable, for people now
    assert len(tickets.missed) == 2 and len(ami.sent) == 2


async def test_the_dialer_calls_nobody_out_of_hours_or_on_a_rest_day() -> None:
    tickets, log, ami = FakeTickets([("T0001xx", "13800000000")]), FakeLog(), FakeAmi()
    night = datetime(2026, 12, 7, 14, 0, tzinfo=UTC).timestamp()  # 22:00 in Beijing
    assert await dialer(tickets, log, ami, [night]).tick() == []
    sunday = datetime(2026, 12, 6, 3, 0, tzinfo=UTC).timestamp()
    assert await dialer(tickets, log, ami, [sunday]).tick() == []
    assert await dialer(tickets, log, ami, [sunday], workdays_only=False).tick() == ["T0001xx"]
    assert date(2026, 12, 6).weekday() == 6


async def test_the_dialer_refuses_a_number_that_is_not_one() -> None:
    tickets, log, ami = FakeTickets([("T0001xx", "138-0000")]), FakeLog(), FakeAmi()
    assert await dialer(tickets, log, ami, [NOW.timestamp()]).tick() == []
    assert ami.sent == []


async def test_an_answer_moves_the_ticket_and_a_hang_up_is_an_attempt() -> None:
    tickets, log, ami, clock = (
        FakeTickets([("T0001xx", "13800000000")]),
        FakeLog(),
        FakeAmi(),
        [NOW.timestamp()],
    )
    d = dialer(tickets, log, ami, clock)
    log.survey_placed("T0001xx", "13800000000", NOW - timedelta(hours=1))
    await d.done(SurveyCall("T0001xx", 1, "call-1"), None)
    assert log.rows["T0001xx"][0]["outcome"] == "incomplete" and tickets.answers == []
    assert len(tickets.missed) == 1
    log.survey_placed("T0001xx", "13800000000", NOW)
    await d.done(SurveyCall("T0001xx", 2, "call-2"), SurveyAnswer("unsatisfied", False))
    assert tickets.answers == [("T0001xx", SurveyAnswer("unsatisfied", False), "call-2")]
    assert log.rows["T0001xx"][1]["outcome"] == "answered"


# -- handoff records from the desktop and the IVR ----------------------------------------------
class RecordingHandoffs:
    """A HandoffLog stand-in: what would be written."""

    def __init__(self) -> None:
        self.opened_: list[Any] = []
        self.ended_: list[tuple[str, str]] = []

    def now(self) -> datetime:
        return NOW

    def opened(self, handoff: Any) -> None:
        self.opened_.append(handoff)

    def ended(self, call_id: str, dial_status: str) -> None:
        self.ended_.append((call_id, dial_status))


async def test_emergency_transfer_and_three_way_with_110_write_handoffs() -> None:
    from hotline.base.settings import DepartmentLine, DepartmentsConfig, EmergencyConfig
    from hotline.callcontrol.service import CallControl
    from hotline.callcontrol.steps import StepRecorder
    from hotline.callcontrol.threeway import ThreeWayService
    from tests.callcontrol.test_call_control import _Ami, _on_call_acd

    ami, steps, handoffs = _Ami(), StepRecorder(None, lambda _a, _m: None), RecordingHandoffs()
    lines = DepartmentsConfig(lines=[DepartmentLine(number="110", name="公安", dial="PJSIP/110@t")])
    three = ThreeWayService(ami, _on_call_acd(), lines, lambda _a, _m: None,
                            handoffs=handoffs)  # type: ignore[arg-type]  # fmt: skip
    control = CallControl(ami, three, EmergencyConfig(), steps,
                          handoffs)  # type: ignore[arg-type]  # fmt: skip
    await control.emergency("1001", "120", reason="  老人\n晕倒 ")
    [out] = handoffs.opened_
    assert (out.call_id, out.direction, out.service, out.kind, out.agent_id, out.reason) == (
        "c1", "out", "120", "emergency_transfer", "1001", "老人 晕倒"
    )  # fmt: skip
    await three.start("1001", "110")
    await asyncio.sleep(0.05)  # the department's leg is dialled in the background
    assert handoffs.opened_[1].kind == "threeway" and handoffs.opened_[1].service == "110"
    assert handoffs.ended_ == [("c1", "ANSWER")]


async def test_desktop_hang_up_lets_the_citizen_rate_unless_held_or_switched_off() -> None:
    from hotline.base.settings import DepartmentsConfig, EmergencyConfig
    from hotline.callcontrol.service import CallControl
    from hotline.callcontrol.steps import StepRecorder
    from hotline.callcontrol.threeway import ThreeWayService
    from tests.callcontrol.test_call_control import _Ami, _on_call_acd

    for rate, ends in ((True, "leg-1"), (False, "PJSIP/citizen-1")):
        ami, steps = _Ami(), StepRecorder(None, lambda _a, _m: None)
        three = ThreeWayService(ami, _on_call_acd(), DepartmentsConfig(), lambda _a, _m: None)
        control = CallControl(ami, three, EmergencyConfig(), steps, rate_after_hangup=rate)
        await control.hangup("1001")
        assert ami.sent[-1]["Channel"] == ends


async def test_the_ivr_records_its_emergency_handoff() -> None:
    from hotline.ivr.flow import IvrFlow, IvrOutcome

    class Heard(IvrFlow):
        async def run(self, channel: Any) -> IvrOutcome:
            return IvrOutcome(skill="general", path=["direct", "speech", "emergency:fire"],
                              next="emergency", emergency_dial="PJSIP/119@t",
                              emergency_number="119", speech_text="着火了")  # fmt: skip

    seen: list[tuple[str, str, str]] = []

    async def record(call_id: str, service: str, why: str) -> None:
        seen.append((call_id, service, why))

    c = chan([])
    await Heard(ivr_cfg(), "general", on_emergency=record)(as_agi(c))
    assert seen == [("c1", "119", "emergency:fire: 着火了")]
    assert c.variables["HOTLINE_EMERGENCY_DIAL"] == "PJSIP/119@t"


async def test_a_survey_call_never_heard_of_again_counts_as_failed() -> None:
    tickets, log, ami = FakeTickets([("T0001xx", "13800000000")]), FakeLog(), FakeAmi()
    log.survey_placed("T0001xx", "13800000000", NOW - timedelta(hours=2))  # engine restarted
    assert await dialer(tickets, log, ami, [NOW.timestamp()]).tick() == []
    assert [r["outcome"] for r in log.rows["T0001xx"]] == ["failed"]
    assert len(tickets.missed) == 1 and ami.sent == []
