"""The call panel's controls beside the three-way call: hold / resume, hang-up, blind transfer,
one-click emergency transfer, and the supervisor's listen / whisper / barge (ChanSpy).

Rules:
* Hold: the citizen hears music on hold ([hotline-3way-hold]); the agent's leg waits in the
  call's conference (the three-way call's, so a later three-way call or resume finds it there).
  Resume brings the citizen into the conference. Hold is refused while a three-way call is
  dialling or consulting (the citizen is on hold already).
* Hang-up ends the call for the agent, who goes to wrap-up. With the after-call rating on
  ([satisfaction] after_call, 一次一评) and the citizen still in the plain bridge with the agent,
  it ends the agent's leg, as the phone's own hang-up does, and the citizen hears the rating
  question; otherwise (rating off, or on hold or in a conference) it ends the citizen's channel.
* Blind transfer and emergency transfer move the citizen to [hotline-transfer], which dials the
  target (a department line, another agent's seat, or 110/119/120/122 with the emergency dial
  string) and the agent's leg to its end in the same Redirect. Emergency numbers are those of
  the configured emergency kinds ([emergency] kinds), nothing else.
* Every emergency transfer writes a handoff record (``handoffs``: service, agent, when, the
  agent's reason; the dialplan reports the outcome when the citizen's leg ends).
* Listen / whisper / barge ring the supervisor's own phone (its user's seat) into [hotline-spy],
  which runs ChanSpy on the agent's leg with q (quiet), qw (whisper to the agent) or qB (barge:
  both hear the supervisor), and E (end when the agent's leg ends).

* The agent's leg ends (the agent hung up the phone) while the citizen is on hold: if the
  department is in the conference (a three-way or consulted call) the citizen joins it (an
  attended transfer completed by hanging up); otherwise the citizen is hung up, never left on
  hold music. (An agent that hangs up while the department still rings is not covered: the
  citizen joins the conference when the ringing ends, and is let go when the department does.)

Every control is a step on the call (hotline/callcontrol/steps.py). Which control fits which state
is
the table below; anything else is refused with the state the call is in.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Any

from hotline.acd.events import AgentStateChanged
from hotline.asterisk.ami.client import originate
from hotline.base.settings import EmergencyConfig
from hotline.callcontrol.steps import StepRecorder
from hotline.callcontrol.threeway import Ami, Stage, ThreeWayError, ThreeWayService
from hotline.followup.store import Handoff, HandoffLog

log = logging.getLogger(__name__)

EMERGENCY_NUMBERS = ("110", "119", "120", "122")
SPY_RING_S = 30
SPY_OPTIONS = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
# A three-way call in these stages has the citizen on hold already.
BUSY_STAGES = frozenset({Stage.DIALLING, Stage.CONSULTING})
# A three-way call in these stages has the department in the conference.
DEPARTMENT_IN = frozenset({Stage.CONFERENCED, Stage.AGENT_LEFT})


class Held(enum.StrEnum):
    TALKING = "talking"
    HELD = "held"


HOLD_TRANSITIONS = {
    (Held.TALKING, "hold"): Held.HELD,
    (Held.HELD, "resume"): Held.TALKING,
}


def next_hold(current: Held, step: str) -> Held:
    found = HOLD_TRANSITIONS.get((current, step))
    if found is None:
        raise ThreeWayError(f"cannot {step} a call that is {current}")
    return found


def emergency_dial(cfg: EmergencyConfig, number: str) -> str:
    """The dial string for an emergency number; refuses anything not configured."""
    configured = {kind.number for kind in cfg.kinds.values()} & set(EMERGENCY_NUMBERS)
    if number not in configured:
        shown = ", ".join(sorted(configured))
        raise ThreeWayError(f"number: {number[:20]!r} is not an emergency number ({shown})")
    return cfg.dial.format(number=number)


class CallControl:
    def __init__(
        self,
        ami: Ami,
        threeway: ThreeWayService,
        emergency: EmergencyConfig,
        steps: StepRecorder,
        handoffs: HandoffLog | None = None,
        rate_after_hangup: bool = False,
    ) -> None:
        self._handoffs = handoffs
        self._rate_after_hangup = rate_after_hangup
        self._ami = ami
        self._threeway = threeway
        self._emergency = emergency
        self._steps = steps
        self.held: dict[str, Held] = {}  # call id -> hold state
        self._holding: dict[str, tuple[str, str]] = {}  # agent id -> (call id, caller channel)
        self._call_of: dict[str, str] = {}  # agent id -> the call it used hold on (to forget)
        self._tasks: set[asyncio.Task[None]] = set()
        threeway.on_joined = self._joined

    def _joined(self, call_id: str) -> None:
        """The three-way call brought the citizen into the conference: off hold."""
        if call_id in self.held:
            self.held[call_id] = Held.TALKING

    def emergency_numbers(self) -> list[str]:
        """The one-click buttons: the emergency numbers the configuration dials."""
        configured = {kind.number for kind in self._emergency.kinds.values()}
        return [n for n in EMERGENCY_NUMBERS if n in configured]

    def _busy(self, agent_id: str, call_id: str) -> None:
        call = self._threeway.calls.get(agent_id)
        if call is not None and call.call_id == call_id and call.stage in BUSY_STAGES:
            raise ThreeWayError(f"cannot do that while the three-way call is {call.stage}")

    async def hold(self, agent_id: str) -> dict[str, Any]:
        call_id, caller, leg = self._threeway.current_call(agent_id)
        self._busy(agent_id, call_id)
        state = next_hold(self.held.get(call_id, Held.TALKING), "hold")
        await self._threeway.to_hold(call_id, caller, leg)
        return self._hold_step(agent_id, call_id, state, "hold")

    async def resume(self, agent_id: str) -> dict[str, Any]:
        call_id, caller, _leg = self._threeway.current_call(agent_id)
        state = next_hold(self.held.get(call_id, Held.TALKING), "resume")
        await self._threeway.to_conference(caller)
        return self._hold_step(agent_id, call_id, state, "resume")

    def _hold_step(self, agent_id: str, call_id: str, state: Held, step: str) -> dict[str, Any]:
        self.held[call_id] = state
        self._call_of[agent_id] = call_id
        if state is Held.HELD:
            self._holding[agent_id] = (call_id, self._threeway.current_call(agent_id)[1])
        else:
            self._holding.pop(agent_id, None)
        self._steps.record(call_id, agent_id, step)
        return {"type": "hold", "call_id": call_id, "state": str(state)}

    async def hangup(self, agent_id: str) -> dict[str, Any]:
        callback = self._threeway.callback_leg(agent_id)
        if callback is not None:  # ending the agent's leg ends its Dial to the citizen
            call_id, leg = callback
            self._steps.record(call_id, agent_id, "hangup")
            await self._ami.send({"Action": "Hangup", "Channel": leg, "Cause": "16"})
            return {"type": "hangup", "call_id": call_id}
        call_id, caller, leg = self._threeway.current_call(agent_id)
        self._steps.record(call_id, agent_id, "hangup")
        bridged = call_id not in self._threeway.conferenced and call_id not in self.held
        ends = leg if self._rate_after_hangup and bridged else caller
        await self._ami.send({"Action": "Hangup", "Channel": ends, "Cause": "16"})
        self._forget(call_id)
        return {"type": "hangup", "call_id": call_id}

    async def transfer(self, agent_id: str, number: str) -> dict[str, Any]:
        _name, dial = self._threeway.target(number)
        return await self._send_away(agent_id, dial, "blind_transfer", number)

    async def emergency(self, agent_id: str, number: str, reason: str = "") -> dict[str, Any]:
        dial = emergency_dial(self._emergency, number)
        done = await self._send_away(agent_id, dial, "emergency_transfer", number)
        if self._handoffs is not None:
            self._handoffs.opened(
                Handoff(
                    call_id=done["call_id"], direction="out", service=number,
                    kind="emergency_transfer", agent_id=agent_id, at=self._handoffs.now(),
                    reason=" ".join(reason.split())[:200],
                )
            )  # fmt: skip
        return done

    async def _send_away(self, agent_id: str, dial: str, step: str, number: str) -> dict[str, Any]:
        call_id, caller, leg = self._threeway.current_call(agent_id)
        self._busy(agent_id, call_id)
        await self._ami.send(
            {"Action": "Setvar", "Channel": caller, "Variable": "HOTLINE_TRANSFER_DIAL",
             "Value": dial}
        )  # fmt: skip
        await self._ami.send(
            {"Action": "Redirect", "Channel": caller, "Context": "hotline-transfer",
             "Exten": "s", "Priority": "1", "ExtraChannel": leg,
             "ExtraContext": "hotline-transfer", "ExtraExten": "done", "ExtraPriority": "1"}
        )  # fmt: skip
        self._steps.record(call_id, agent_id, step, number=number)
        self._forget(call_id)
        return {"type": "transfer", "call_id": call_id, "number": number, "kind": step}

    def _forget(self, call_id: str) -> None:
        self.held.pop(call_id, None)
        self._threeway.conferenced.discard(call_id)

    def observe(self, decision: Any) -> None:
        """ACD observer: the agent's leg ended; a citizen on hold is not left there."""
        if not isinstance(decision, AgentStateChanged) or str(decision.state) == "on_call":
            return
        agent_id = decision.agent_id
        holding = self._holding.pop(agent_id, None)
        three = self._threeway.calls.get(agent_id)
        finished = self._call_of.pop(agent_id, None)
        if holding is None and finished is not None:  # the agent's call is over for the desk
            self._forget(finished)
        if three is not None and three.stage is Stage.CONSULTING:
            self._spawn(self._threeway.complete(agent_id, agent_gone=True))
        elif holding is not None and self.held.get(holding[0]) is Held.HELD:
            call_id, caller = holding
            joined = three is not None and three.call_id == call_id
            if joined and three is not None and three.stage in DEPARTMENT_IN:
                self._spawn(self._threeway.to_conference(caller))  # with the department
                self._steps.record(call_id, agent_id, "resume")
            else:
                self._spawn(self._ami.send({"Action": "Hangup", "Channel": caller, "Cause": "16"}))
                self._steps.record(call_id, agent_id, "hangup")
            self._forget(call_id)

    def _spawn(self, coro: Any) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # the citizen may have hung up meanwhile
                log.info("after the agent's leg ended: %s", exc)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def spy(self, supervisor: str, phone: str, agent_id: str, mode: str) -> dict[str, Any]:
        """Ring the supervisor's phone into ChanSpy on the agent's leg."""
        options = SPY_OPTIONS.get(mode)
        if options is None:
            raise ThreeWayError(f"mode: {mode[:20]!r} is not one of {', '.join(SPY_OPTIONS)}")
        call_id, _caller, leg = self._threeway.current_call(agent_id)
        response = await self._ami.send(
            {"Action": "Getvar", "Channel": leg, "Variable": "CHANNEL"}, timeout_s=2.0
        )
        first = response[0] if isinstance(response, list) else response
        channel = str(first.get("Value", "") or "")
        if not channel or channel == "(null)":
            raise ThreeWayError("the agent's channel is gone")
        # HOTLINE_CALL: in a cluster the supervisor is rung on the node holding the call.
        variables = [
            f"HOTLINE_SPY_CHANNEL={channel}", f"HOTLINE_SPY_OPTIONS={options}",
            f"HOTLINE_CALL={call_id}",
        ]  # fmt: skip
        # The supervisor's phone rings meanwhile.
        self._spawn(self._ring(phone, (mode, agent_id), variables))
        self._steps.record(call_id, agent_id, mode, supervisor=supervisor)
        return {"type": "spy", "call_id": call_id, "agent_id": agent_id, "mode": mode}

    async def _ring(self, phone: str, caller: tuple[str, str], variables: list[str]) -> None:
        try:
            await originate(
                self._ami, phone, "hotline-spy", ring_s=SPY_RING_S, caller=caller,
                variables=variables,
            )  # fmt: skip
        except Exception as exc:
            log.info("supervisor's phone %s not reached: %s", phone, exc)
