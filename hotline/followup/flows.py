"""After the call and after the ticket: the caller rates the service with keys.

一次一评 (``satisfaction`` script): when the agent hangs up, the agent leg's ``Bridge()`` sends the
caller on to ``[hotline-after-call]`` (its F option), which runs this flow: one question, one key
(``[satisfaction] keys``: 1 satisfied, 2 basically satisfied, 3 unsatisfied), the answer raised as
``HotlineSatisfaction`` (the call tracker puts it on the call record). A transfer, an emergency
transfer or a three-way call moves the caller out of the bridge by a Redirect, which replaces the
F destination, so those callers are never asked; the tracker also drops an answer on a call that
was not answered by an agent or was transferred.

一事一评 by phone (``survey`` script): the survey dialer (dialer.py) calls the citizen of a
reviewed ticket into ``[hotline-survey]``; this flow asks how satisfied they are and whether the
matter was solved, and hands the answer to the ticket side (``SurveySink``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hotline.asterisk.agi import AgiChannel, AgiHangup
from hotline.base.settings import SatisfactionConfig, SurveyConfig

log = logging.getLogger(__name__)

# What the dialer puts on the survey call (full match: the channel variables come back from
# Asterisk, and a ticket number goes into the ticket store).
TICKET = re.compile(r"[0-9A-Za-z-]{6,32}")
ATTEMPT = re.compile(r"[1-9][0-9]?")
_T = TypeVar("_T")


class SatisfactionFlow:
    def __init__(self, cfg: SatisfactionConfig) -> None:
        self._cfg = cfg

    async def __call__(self, channel: AgiChannel) -> None:
        if not self._cfg.after_call:
            return
        key = await channel.get_data("hotline/satisfaction", int(self._cfg.timeout_s * 1000), 1)
        answer = self._cfg.keys.get(key or "", "none")
        await channel.user_event("HotlineSatisfaction", CallId=channel.unique_id, Answer=answer)
        if answer != "none":
            await channel.stream_file("hotline/thanks", escape="")


@dataclass(frozen=True)
class SurveyAnswer:
    """The citizen's keys on a survey call."""

    satisfaction: str
    """satisfied, basic or unsatisfied."""
    solved: bool | None
    """Whether the matter was solved (the phone survey always has it)."""


@dataclass(frozen=True)
class SurveyCall:
    ticket: str
    attempt: int
    call_id: str = ""
    """The survey call's Asterisk unique id (on the lifecycle's survey event)."""


SurveyDone = Callable[[SurveyCall, SurveyAnswer | None], Awaitable[None]]
"""Called once per answered survey call: the answer, or None (no usable keys, or hung up)."""


class SurveyFlow:
    def __init__(self, cfg: SurveyConfig, done: SurveyDone) -> None:
        self._cfg = cfg
        self._done = done

    async def __call__(self, channel: AgiChannel) -> None:
        ticket = await channel.get_variable("HOTLINE_SURVEY_TICKET") or ""
        attempt = await channel.get_variable("HOTLINE_SURVEY_ATTEMPT") or ""
        if not TICKET.fullmatch(ticket) or not ATTEMPT.fullmatch(attempt):
            log.error("survey call without a valid ticket/attempt: %r %r", ticket[:40], attempt[:4])
            return
        call = SurveyCall(ticket, int(attempt), channel.unique_id)
        answer: SurveyAnswer | None = None
        try:
            answer = await self._ask(channel)
        except AgiHangup:
            log.info("survey of %s (attempt %d): the citizen hung up", ticket, call.attempt)
        finally:
            await self._done(call, answer)
        if answer is not None:
            await channel.stream_file("hotline/thanks", escape="")

    async def _ask(self, channel: AgiChannel) -> SurveyAnswer | None:
        timeout_ms = int(self._cfg.timeout_s * 1000)
        satisfaction = await self._key(
            channel, "hotline/survey-satisfaction", self._cfg.satisfaction_keys, timeout_ms
        )
        if satisfaction is None:
            return None
        solved = await self._key(
            channel, "hotline/survey-solved", self._cfg.solved_keys, timeout_ms
        )
        if solved is None:  # an automated survey always has both answers, or none
            return None
        return SurveyAnswer(satisfaction=str(satisfaction), solved=solved)

    async def _key(
        self, channel: AgiChannel, prompt: str, keys: Mapping[str, _T], timeout_ms: int
    ) -> _T | None:
        for _ in range(self._cfg.max_failures):
            key = await channel.get_data(prompt, timeout_ms, 1)
            if key is not None and key in keys:
                return keys[key]
            await channel.stream_file("hotline/invalid", escape="")
        return None
