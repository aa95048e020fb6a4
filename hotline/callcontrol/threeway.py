"""Three-way calls (三方通话) from the agent's call panel: citizen, agent and a department line.

Steps (the dialplan side is [hotline-3way-hold] / [hotline-3way-join], profiles in
confbridge.conf):
1. start: one Redirect moves the citizen onto hold music and the agent's leg into a new
   conference; the department line is dialled into the conference (the agent hears it ring).
2. the department answers: the citizen is brought into the conference; all three talk.
   The department does not answer: the citizen is brought back to the agent all the same.
3. the agent leaves (the citizen and the department go on talking; the ACD sees the agent's leg
   end and gives it wrap-up) or drops the department (the agent and the citizen go on).
When the citizen hangs up the conference lets the agent and the department go.

An attended transfer (consult first) is the same call with ``consult``: when the department
answers the citizen stays on hold while the agent and the department talk (CONSULTING); then the
agent completes the transfer (the citizen joins, the agent's leg ends: TRANSFERRED) or cancels it
(the department's leg ends, the citizen is back with the agent: DEPARTMENT_DROPPED). The target is
a department line from the directory or another agent's seat (``agent:<id>``).

Once the agent's leg is in the conference (a three-way call or hold, hotline/callcontrol/service.py)
it stays there until the call ends; ``conferenced`` remembers those calls.

A three-way call (or consultation) with an emergency service's line (a directory line numbered
110, 119, 120 or 122) writes a handoff record like an emergency transfer: service, agent, when;
its outcome is whether the service answered.

Stages and the moves allowed between them are the table below; anything else is refused with
the stage it is in (e.g. "leave" before the department answered).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hotline.acd.service import AcdService
from hotline.asterisk.ami.client import originate
from hotline.base.settings import DepartmentsConfig
from hotline.callcontrol.steps import StepRecorder
from hotline.followup.store import SERVICES, Handoff, HandoffLog

log = logging.getLogger(__name__)


class Stage(enum.StrEnum):
    DIALLING = "dialling"  # the citizen on hold, the department ringing
    CONFERENCED = "conferenced"  # all three talking
    FAILED = "failed"  # the department did not answer; the citizen is back with the agent
    AGENT_LEFT = "agent_left"  # citizen and department talking, the agent gone
    DEPARTMENT_DROPPED = "department_dropped"  # citizen and agent talking
    CONSULTING = "consulting"  # attended transfer: agent and department talk, citizen on hold
    TRANSFERRED = "transferred"  # attended transfer done: citizen and department, agent gone


TRANSITIONS = {
    (None, "start"): Stage.DIALLING,
    (Stage.FAILED, "start"): Stage.DIALLING,
    (Stage.DEPARTMENT_DROPPED, "start"): Stage.DIALLING,
    (Stage.DIALLING, "answered"): Stage.CONFERENCED,
    (Stage.DIALLING, "no_answer"): Stage.FAILED,
    (Stage.CONFERENCED, "leave"): Stage.AGENT_LEFT,
    (Stage.CONFERENCED, "drop"): Stage.DEPARTMENT_DROPPED,
    (Stage.DIALLING, "consulting"): Stage.CONSULTING,
    (Stage.CONSULTING, "complete"): Stage.TRANSFERRED,
    (Stage.CONSULTING, "cancel"): Stage.DEPARTMENT_DROPPED,
}
# The step each stage is recorded as on the call (hotline/callcontrol/steps.py).
STAGE_STEPS = {
    Stage.CONFERENCED: "threeway_joined",
    Stage.FAILED: "threeway_failed",
    Stage.AGENT_LEFT: "threeway_left",
    Stage.DEPARTMENT_DROPPED: "threeway_dropped",
    Stage.CONSULTING: "consult_answered",
    Stage.TRANSFERRED: "transfer_completed",
}
AGENT_TARGET = "agent:"


class ThreeWayError(Exception):
    """The step does not fit the call as it is; the message says why."""


class Ami(Protocol):
    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any: ...


@dataclass(frozen=True)
class ThreeWay:
    agent_id: str
    call_id: str
    conference: str
    caller_channel: str
    agent_leg: str
    department: str
    department_leg: str
    stage: Stage
    consult: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "threeway",
            "call_id": self.call_id,
            "department": self.department,
            "stage": str(self.stage),
            "consult": self.consult,
        }


def next_stage(current: Stage | None, step: str) -> Stage:
    found = TRANSITIONS.get((current, step))
    if found is None:
        raise ThreeWayError(f"cannot {step} a three-way call that is {current or 'not started'}")
    return found


class ThreeWayService:
    def __init__(
        self,
        ami: Ami,
        acd: AcdService,
        departments: DepartmentsConfig,
        notify: Callable[[str, dict[str, Any]], None],
        *,
        steps: StepRecorder | None = None,
        seat_of: Callable[[str], str] | None = None,
        handoffs: HandoffLog | None = None,
    ) -> None:
        self._handoffs = handoffs
        self._ami = ami
        self._acd = acd
        self._departments = {line.number: line for line in departments.lines}
        self._ring_s = departments.ring_s
        self._notify = notify
        self._steps = steps
        self._seat_of = seat_of  # agent id -> its seat's dial string (transfer to an agent)
        self.calls: dict[str, ThreeWay] = {}  # agent id -> its three-way call
        self.conferenced: set[str] = set()  # call ids whose agent leg is in the conference
        # Told the call id when the citizen is brought into the conference (off hold).
        self.on_joined: Callable[[str], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def directory(self) -> list[dict[str, str]]:
        return [{"number": d.number, "name": d.name} for d in self._departments.values()]

    def other_agents(self, agent_id: str) -> list[str]:
        """Logged-in agents a call can be passed to (their seats ring outside the ACD)."""
        if self._seat_of is None:
            return []
        return sorted(a.agent_id for a in self._acd.acd.agents() if a.agent_id != agent_id)

    def target(self, number: str) -> tuple[str, str]:
        """(name, dial string) of a department line or of another agent's seat."""
        line = self._departments.get(number)
        if line is not None:
            return line.name, line.dial
        if number.startswith(AGENT_TARGET) and self._seat_of is not None:
            agent_id = number[len(AGENT_TARGET) :]
            try:
                return f"agent {agent_id}", self._seat_of(agent_id)
            except LookupError:
                pass
        raise ThreeWayError(f"department: {number[:40]!r} is not in the directory")

    def _set(self, call: ThreeWay, step: str) -> ThreeWay:
        updated = self._publish(replace(call, stage=next_stage(call.stage, step)))
        name = "consult_cancelled" if step == "cancel" else STAGE_STEPS[updated.stage]
        self._record(updated, name)
        return updated

    def _record(self, call: ThreeWay, step: str) -> None:
        if self._steps is not None:
            self._steps.record(call.call_id, call.agent_id, step, department=call.department)

    def _publish(self, call: ThreeWay) -> ThreeWay:
        self.calls[call.agent_id] = call
        self._notify(call.agent_id, call.to_json())
        log.info("three-way %s (agent %s): %s", call.call_id, call.agent_id, call.stage)
        return call

    def current_call(self, agent_id: str) -> tuple[str, str, str]:
        """(call id, caller channel, agent leg) of the agent's answered call."""
        view = self._acd.acd.agent(agent_id)
        if view is None or str(view.state) != "on_call" or not view.call_id:
            raise ThreeWayError("the agent is not on a call")
        leg = next(
            (g for g in self._acd.legs.values()
             if g.agent_id == agent_id and g.call_id == view.call_id and g.answered),
            None,
        )  # fmt: skip
        call = self._acd.tracker.calls.get(view.call_id)
        if leg is None or call is None:
            raise ThreeWayError("the call's channels are not known (yet)")
        return view.call_id, call.channel, leg.agent_channel

    def callback_leg(self, agent_id: str) -> tuple[str, str] | None:
        """(call id, agent leg) when the agent is on a callback: the citizen's leg hangs on the
        agent leg's Dial, and the call it answers has no caller channel any more."""
        view = self._acd.acd.agent(agent_id)
        if view is None or str(view.state) != "on_call" or not view.call_id:
            return None
        leg = next(
            (g for g in self._acd.legs.values()
             if g.agent_id == agent_id and g.call_id == view.call_id and g.kind == "callback"),
            None,
        )  # fmt: skip
        return (view.call_id, leg.agent_channel) if leg is not None else None

    async def start(self, agent_id: str, number: str, *, consult: bool = False) -> ThreeWay:
        _name, dial = self.target(number)
        call_id, caller_channel, agent_leg = self.current_call(agent_id)
        existing = self.calls.get(agent_id)
        previous = existing.stage if existing is not None and existing.call_id == call_id else None
        conference = f"hl3-{call_id}"
        call = ThreeWay(
            agent_id, call_id, conference, caller_channel, agent_leg, number,
            f"hl3-{uuid.uuid4().hex[:16]}", next_stage(previous, "start"), consult,
        )  # fmt: skip
        self._publish(call)
        await self.to_hold(call_id, caller_channel, agent_leg)
        self._record(call, "consult_started" if consult else "threeway_started")
        if self._handoffs is not None and number in SERVICES:
            self._handoffs.opened(
                Handoff(
                    call_id=call_id, direction="out", service=number, kind="threeway",
                    agent_id=agent_id, at=self._handoffs.now(),
                    reason="consultation" if consult else "three-way call",
                )
            )  # fmt: skip
        task = asyncio.ensure_future(self._dial(call, dial))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    async def to_hold(self, call_id: str, caller_channel: str, agent_leg: str) -> None:
        """The citizen onto hold music; the agent's leg into the call's conference (once)."""
        conference = f"hl3-{call_id}"
        for channel, role in ((caller_channel, "caller"), (agent_leg, "agent")):
            await self._setvar(channel, "HOTLINE_CONF", conference)
            await self._setvar(channel, "HOTLINE_CONF_ROLE", role)
        redirect = {
            "Action": "Redirect",
            "Channel": caller_channel,
            "Context": "hotline-3way-hold",
            "Exten": "s",
            "Priority": "1",
        }
        if call_id not in self.conferenced:  # the agent is still in the plain bridge
            redirect |= {
                "ExtraChannel": agent_leg,
                "ExtraContext": "hotline-3way-join",
                "ExtraExten": "s",
                "ExtraPriority": "1",
            }
        # Otherwise the agent stays in the conference: moving it out and back would empty the
        # conference, and a channel joining a conference while Asterisk tears it down ends up
        # alone in the old one.
        await self._ami.send(redirect)
        self.conferenced.add(call_id)

    async def to_conference(self, caller_channel: str) -> None:
        """The citizen from hold music into the conference (with the agent, maybe more)."""
        await self._ami.send(
            {"Action": "Redirect", "Channel": caller_channel,
             "Context": "hotline-3way-join", "Exten": "s", "Priority": "1"}
        )  # fmt: skip

    async def _dial(self, call: ThreeWay, dial: str) -> None:
        answered = False
        try:
            rang = await originate(
                self._ami,
                dial,
                "hotline-3way-join",
                ring_s=self._ring_s,
                caller=("12345", "12345"),
                channel_id=call.department_leg,
                variables=[f"HOTLINE_CONF={call.conference}", "HOTLINE_CONF_ROLE=department"],
            )
            answered = rang.answered
        except Exception as exc:
            log.info("three-way %s: department %s not reached: %s", call.call_id, dial, exc)
        if self._handoffs is not None and call.department in SERVICES:
            self._handoffs.ended(call.call_id, "ANSWER" if answered else "NOANSWER")
        if answered and call.consult:  # the citizen waits on hold while the agent consults
            self._set(self.calls.get(call.agent_id, call), "consulting")
            return
        # Either way the citizen leaves the hold music for the conference: with the department
        # and the agent, or with the agent alone.
        await self._bring_citizen(call)
        self._set(self.calls.get(call.agent_id, call), "answered" if answered else "no_answer")

    async def _bring_citizen(self, call: ThreeWay) -> None:
        try:
            await self.to_conference(call.caller_channel)
        except Exception as exc:  # the citizen hung up while on hold
            log.info("three-way %s: citizen not brought in: %s", call.call_id, exc)
        self._joined(call.call_id)

    def _joined(self, call_id: str) -> None:
        if self.on_joined is not None:
            self.on_joined(call_id)

    async def complete(self, agent_id: str, *, agent_gone: bool = False) -> ThreeWay:
        """Attended transfer: the citizen joins the department, the agent's leg ends (or has
        ended: the agent hung up while consulting)."""
        call = self._require(agent_id)
        next_stage(call.stage, "complete")  # refuses before anything moves
        await self.to_conference(call.caller_channel)
        self._joined(call.call_id)
        updated = self._set(call, "complete")
        if not agent_gone:
            await self._hangup(call.agent_leg)
        return updated

    async def cancel(self, agent_id: str) -> ThreeWay:
        """Attended transfer given up: the department's leg ends, the citizen is back."""
        call = self._require(agent_id)
        updated = self._set(call, "cancel")
        await self._hangup(call.department_leg)
        await self._bring_citizen(call)
        return updated

    async def leave(self, agent_id: str) -> ThreeWay:
        call = self._require(agent_id)
        updated = self._set(call, "leave")
        await self._hangup(call.agent_leg)
        return updated

    async def drop(self, agent_id: str) -> ThreeWay:
        call = self._require(agent_id)
        updated = self._set(call, "drop")
        await self._hangup(call.department_leg)
        return updated

    def _require(self, agent_id: str) -> ThreeWay:
        call = self.calls.get(agent_id)
        if call is None:
            raise ThreeWayError("no three-way call")
        return call

    async def _setvar(self, channel: str, name: str, value: str) -> None:
        await self._ami.send(
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
        )

    async def _hangup(self, channel: str) -> None:
        await self._ami.send({"Action": "Hangup", "Channel": channel, "Cause": "16"})
