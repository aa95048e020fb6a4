"""The call panel's pure parts and small stores: hold and transfer rules, emergency numbers,
attended transfer stages, call steps (kept and read back), the wallboard chart's rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hotline.acd.staffing import SLOTS_PER_DAY
from hotline.app.migrate import upgrade
from hotline.base.daytypes import CENTRE_TZ
from hotline.base.settings import EmergencyConfig
from hotline.callcontrol.service import EMERGENCY_NUMBERS, Held, emergency_dial, next_hold
from hotline.callcontrol.steps import CallStep, StepRecorder, StepStore
from hotline.callcontrol.threeway import Stage, ThreeWayError, next_stage
from hotline.calls.records import CallOutcome, CallRecord
from hotline.wallboard.chart import ChartSource, offered_by_slot, rows


def test_hold_and_resume_follow_the_table() -> None:
    assert next_hold(Held.TALKING, "hold") is Held.HELD
    assert next_hold(Held.HELD, "resume") is Held.TALKING
    with pytest.raises(ThreeWayError, match="cannot hold a call that is held"):
        next_hold(Held.HELD, "hold")
    with pytest.raises(ThreeWayError, match="cannot resume a call that is talking"):
        next_hold(Held.TALKING, "resume")


def test_emergency_transfer_dials_only_the_configured_emergency_numbers() -> None:
    cfg = EmergencyConfig(dial="Local/{number}@test-department")
    assert emergency_dial(cfg, "119") == "Local/119@test-department"
    assert {k.number for k in cfg.kinds.values()} == set(EMERGENCY_NUMBERS)
    for bad in ("12345", "", "119; Dial(PJSIP/x)", "1100"):
        with pytest.raises(ThreeWayError, match="not an emergency number"):
            emergency_dial(cfg, bad)


def test_attended_transfer_stages_follow_the_table() -> None:
    assert next_stage(Stage.DIALLING, "consulting") is Stage.CONSULTING
    assert next_stage(Stage.CONSULTING, "complete") is Stage.TRANSFERRED
    assert next_stage(Stage.CONSULTING, "cancel") is Stage.DEPARTMENT_DROPPED
    for stage, step in [
        (Stage.CONFERENCED, "complete"),  # a plain three-way call is left, not completed
        (Stage.DIALLING, "complete"),  # the department has not answered
        (Stage.TRANSFERRED, "start"),  # the agent is gone
        (Stage.CONSULTING, "leave"),
    ]:
        with pytest.raises(ThreeWayError, match=f"cannot {step}"):
            next_stage(stage, step)


def test_call_steps_are_kept_in_order_and_sent_to_the_agent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'steps.db'}"
    upgrade(url)
    store = StepStore(url)
    sent: list[tuple[str, dict[str, Any]]] = []
    published: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    recorder = StepRecorder(store, lambda a, m: sent.append((a, m)),
                            lambda t, p: published.append((t, p)), clock=lambda: at)  # fmt: skip

    async def run() -> None:
        recorder.record("c1", "1001", "hold")
        recorder.record("c1", "1001", "emergency_transfer", number="119")
        recorder.record("c2", "1002", "listen", supervisor="boss")
        await recorder.flush()

    asyncio.run(run())
    steps = store.of_call("c1")
    assert [(s.step, s.detail) for s in steps] == [
        ("hold", {}), ("emergency_transfer", {"number": "119"}),
    ]  # fmt: skip
    assert steps[0].at == at and steps[0].agent_id == "1001"
    assert [a for a, _ in sent] == ["1001", "1001", "1002"] and sent[0][1]["type"] == "step"
    assert published[1] == (("calls", "c1", "step"), steps[1].to_json())
    with pytest.raises(ValueError, match="not a call step"):
        CallStep("c1", "1001", "teleport", at)
    store.engine.dispose()


def test_a_step_the_database_refuses_is_still_sent() -> None:
    class Broken(StepStore):
        def __init__(self) -> None:
            pass

        def add(self, step: CallStep) -> None:
            raise OSError("database away")

    sent: list[dict[str, Any]] = []
    recorder = StepRecorder(Broken(), lambda _a, m: sent.append(m))

    async def run() -> None:
        recorder.record("c1", "1001", "hangup")
        await recorder.flush()

    asyncio.run(run())
    assert [m["step"] for m in sent] == ["hangup"]


def _record(queued: datetime, uid: str) -> CallRecord:
    return CallRecord(
        unique_id=uid, linked_id=uid, caller="13800000000", dialled="12345",
        arrived_at=queued - timedelta(seconds=20), ended_at=queued + timedelta(seconds=200),
        outcome=CallOutcome.ANSWERED, queued_at=queued, answered_at=queued + timedelta(seconds=5),
    )  # fmt: skip


def test_chart_counts_offered_calls_per_half_hour_of_centre_time() -> None:
    day = date(2026, 11, 23)
    local = datetime(2026, 11, 23, 9, 10, tzinfo=CENTRE_TZ)
    records = [
        _record(local, "a"),
        _record(local + timedelta(minutes=19), "b"),  # 09:29, same slot
        _record(local + timedelta(minutes=20), "c"),  # 09:30, the next slot
        _record(local - timedelta(days=1), "d"),  # yesterday: not today's
    ]
    offered = offered_by_slot(records, day)
    assert offered[18] == 2 and offered[19] == 1 and sum(offered) == 3
    out = rows(offered, {18: 3}, None, now_slot=19)
    assert len(out) == SLOTS_PER_DAY and out[18] == {
        "start": "09:00", "offered": 2, "staffed": 3, "planned": None,
    }  # fmt: skip
    assert out[20]["offered"] is None and out[20]["staffed"] is None  # the future


def test_chart_source_plans_from_history_and_samples_staffing() -> None:
    now = datetime(2026, 11, 23, 9, 45, tzinfo=CENTRE_TZ)  # a Monday
    history = [
        _record(datetime(2026, 11, 16, 9, m, tzinfo=CENTRE_TZ), f"h{m}") for m in range(0, 30, 1)
    ]
    today = [_record(datetime(2026, 11, 23, 9, 5, tzinfo=CENTRE_TZ), "t1")]
    asked: list[tuple[datetime, datetime]] = []

    def records(start: datetime, end: datetime) -> list[CallRecord]:
        asked.append((start, end))
        return [r for r in history + today if start <= r.arrived_at < end]

    source = ChartSource(records, wrapup_s=10, clock=lambda: now)
    source.sample(2)
    source.sample(4)
    source.sample(3)
    chart = asyncio.run(source.build())
    slot = chart["rows"][19]  # 09:30
    assert slot["staffed"] == 4 and chart["rows"][18]["offered"] == 1
    assert chart["rows"][18]["planned"] > 0  # 30 calls in that half hour a week ago
    assert chart["history_days"] == 1
    asyncio.run(source.build())
    assert len(asked) == 3  # the plan once, today's records each time


def test_transfer_targets_are_directory_lines_or_configured_agents() -> None:
    from hotline.acd.agents import UnknownAgent
    from hotline.base.settings import DepartmentsConfig
    from hotline.callcontrol.threeway import ThreeWayService

    def seat_of(agent_id: str) -> str:
        if agent_id != "1002":
            raise UnknownAgent(agent_id)
        return "PJSIP/1002"

    lines = DepartmentsConfig.model_validate(
        {"lines": [{"number": "12315", "name": "市场监管", "dial": "Local/12315@test-department"}]}
    )
    service = ThreeWayService(None, None, lines, lambda _a, _m: None, seat_of=seat_of)  # type: ignore[arg-type]
    assert service.target("12315") == ("市场监管", "Local/12315@test-department")
    assert service.target("agent:1002") == ("agent 1002", "PJSIP/1002")
    for bad in ("agent:9999", "99999", "agent:", "PJSIP/evil"):
        with pytest.raises(ThreeWayError, match="not in the directory"):
            service.target(bad)


class _Ami:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any:
        self.sent.append(action)
        return {"Response": "Success"}


def _on_call_acd() -> Any:
    from types import SimpleNamespace

    view = SimpleNamespace(agent_id="1001", state="on_call", call_id="c1")
    leg = SimpleNamespace(
        agent_id="1001",
        call_id="c1",
        answered=True,
        leg_id="leg-1",
        agent_channel="leg-1",
        kind="offer",
    )
    return SimpleNamespace(
        acd=SimpleNamespace(agents=lambda: [view], agent=lambda i: view if i == "1001" else None),
        legs={"leg-1": leg},
        tracker=SimpleNamespace(calls={"c1": SimpleNamespace(channel="PJSIP/citizen-1")}),
    )


def test_a_held_citizen_is_hung_up_when_the_agent_hangs_up_and_joins_after_three_way() -> None:
    from hotline.acd.events import AgentState, AgentStateChanged
    from hotline.base.settings import DepartmentsConfig
    from hotline.callcontrol.service import CallControl
    from hotline.callcontrol.threeway import ThreeWayService

    async def run() -> None:
        ami, steps = _Ami(), StepRecorder(None, lambda _a, _m: None)
        three = ThreeWayService(ami, _on_call_acd(), DepartmentsConfig(), lambda _a, _m: None)
        control = CallControl(ami, three, EmergencyConfig(), steps)
        assert (await control.hold("1001"))["state"] == "held"
        moved = ami.sent[-1]
        assert (moved["Channel"], moved["Context"]) == ("PJSIP/citizen-1", "hotline-3way-hold")
        assert moved["ExtraChannel"] == "leg-1"  # the agent into the conference, once
        assert (await control.resume("1001"))["state"] == "talking"
        assert (await control.hold("1001"))["state"] == "held"
        assert "ExtraChannel" not in ami.sent[-1]  # the agent is in the conference already
        # A three-way call brings the citizen in: no longer on hold.
        control._joined("c1")
        with pytest.raises(ThreeWayError, match="cannot resume a call that is talking"):
            await control.resume("1001")
        await control.hold("1001")
        control.observe(AgentStateChanged(agent_id="1001", state=AgentState.WRAP_UP,
                                          reason="", at=1.0))  # fmt: skip
        await asyncio.sleep(0.05)
        assert ami.sent[-1] == {"Action": "Hangup", "Channel": "PJSIP/citizen-1", "Cause": "16"}
        assert "c1" not in control.held

    asyncio.run(run())


def test_hanging_up_a_callback_ends_the_agents_leg() -> None:
    """A callback's citizen hangs on the agent leg's Dial and the call it answers has no caller
    channel any more: the desktop's hang-up ends the agent's leg."""
    from hotline.base.settings import DepartmentsConfig
    from hotline.callcontrol.service import CallControl
    from hotline.callcontrol.threeway import ThreeWayService

    async def run() -> None:
        acd = _on_call_acd()
        acd.legs["leg-1"].kind = "callback"
        acd.tracker.calls.clear()  # the citizen who was called back hung up long ago
        ami, steps = _Ami(), StepRecorder(None, lambda _a, _m: None)
        three = ThreeWayService(ami, acd, DepartmentsConfig(), lambda _a, _m: None)
        control = CallControl(ami, three, EmergencyConfig(), steps)
        assert await control.hangup("1001") == {"type": "hangup", "call_id": "c1"}
        assert ami.sent == [{"Action": "Hangup", "Channel": "leg-1", "Cause": "16"}]
        acd.legs["leg-1"].kind = "offer"  # an offer's call without its channels: refused
        with pytest.raises(ThreeWayError, match="not known"):
            await control.hangup("1001")

    asyncio.run(run())
