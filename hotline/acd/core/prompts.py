"""What waiting callers hear: voicemail, position/EWT announcements and the callback offer,
at queue entry and on the Tick a call's timer is due.
"""

from __future__ import annotations

import math

from hotline.acd.core.records import Call, CallState, Estimates, waited_since
from hotline.acd.core.routing import Router
from hotline.acd.core.rules import VOICEMAIL, call_target
from hotline.acd.events import AnnouncePosition, Decision, OfferCallback, SendToVoicemail


class Prompter(Router):
    def _speak_to_waiting(self, at: float, out: list[Decision], due: list[Call]) -> None:
        """Voicemail, announcements and callback offers due on a tick, in service order, with
        the estimates as of the tick. Only the ``due`` calls (in service order) can be due;
        estimates are worked out only for the calls that need one now."""
        waiting = [c for c in due if c.state is CallState.WAITING]

        def voicemail_ewt_wanted(call: Call) -> bool:
            after_s = self._policy.rules(call.skill).voicemail_after_s
            return after_s is not None and waited_since(at, call.queued_at) < after_s

        estimates: Estimates = {}
        if self._policy.thresholds_use_ewt:
            estimates = self._estimates_of(list(filter(voicemail_ewt_wanted, waiting)), at)
        for call in waiting:
            after_s = self._policy.rules(call.skill).voicemail_after_s
            ewt_s = estimates.get(call.call_id, (0, None))[1]
            if self._crossed(after_s, waited_since(at, call.queued_at), ewt_s):
                self._to_voicemail(call, at, out)

        def speaks(call: Call) -> bool:
            rules = self._policy.rules(call.skill)
            every = rules.announce_every_s
            last = call.queued_at if call.announced_at is None else call.announced_at
            if every > 0 and at - last >= every:
                return True
            offer = rules.offer_callback_after_s is not None and not call.callback_offered
            return offer and not self._paused

        speaking = [c for c in waiting if c.call_id in self._calls and speaks(c)]
        if speaking:
            estimates = self._estimates_of(speaking, at)
            for call in speaking:
                self._speak(call, at, out, estimates[call.call_id], entry=False)

    def _speak(
        self,
        call: Call,
        at: float,
        out: list[Decision],
        estimate: tuple[int, float | None],
        *,
        entry: bool,
    ) -> None:
        """What a waiting caller hears now: voicemail, or position/EWT and a callback offer."""
        rules = self._policy.rules(call.skill)
        position, ewt_s = estimate
        waited = waited_since(at, call.queued_at)
        if entry and self._crossed(rules.voicemail_after_s, waited, ewt_s):
            self._to_voicemail(call, at, out)
            return
        every = rules.announce_every_s
        if every > 0:
            last = call.queued_at if call.announced_at is None else call.announced_at
            if entry or at - last >= every:
                announce = AnnouncePosition(
                    call_id=call.call_id, position=position, ewt_s=ewt_s, at=at
                )
                out.append(announce)
                # Keep the cadence of the queue entry, whatever the tick interval.
                call.announced_at = at if entry else last + every * math.floor((at - last) / every)
        offer = not call.callback_offered and not self._paused
        if offer and self._crossed(rules.offer_callback_after_s, waited, ewt_s):
            call.callback_offered = True
            out.append(OfferCallback(call_id=call.call_id, ewt_s=ewt_s, at=at))

    def _to_voicemail(self, call: Call, at: float, out: list[Decision]) -> None:
        call_target(call, VOICEMAIL, self._policy, at)
        self._drop(call)
        out.append(
            SendToVoicemail(call_id=call.call_id, waited_s=waited_since(at, call.queued_at), at=at)
        )
