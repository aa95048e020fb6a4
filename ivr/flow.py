"""The IVR: a greeting and a one-digit main menu; out of hours, voicemail.

Each exit sets the ACD skill and priority and appends to the IVR path that lands on the call
record (``greeting>menu:1``).  Wrong keys and silence re-prompt; after ``max_failures`` the
caller goes to an agent with the default skill (nobody is ever stuck in a menu). When agents
are not answering (opening hours, by day type) the caller hears so and is sent to leave a
message (``HOTLINE_NEXT=voicemail``; the dialplan records it), path ``closed>voicemail``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotline.config import IvrConfig
from ivr.agi import AgiChannel
from ivr.hours import BusinessHours


@dataclass
class IvrOutcome:
    skill: str
    priority: int = 0
    path: list[str] = field(default_factory=list)
    next: str = "queue"
    """Where the dialplan sends the caller: "queue" (an agent) or "voicemail"."""


class MenuFlow:
    def __init__(
        self,
        cfg: IvrConfig,
        default_skill: str,
        hours: BusinessHours | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cfg = cfg
        self._default_skill = default_skill
        self._hours = hours
        self._clock = clock

    async def __call__(self, channel: AgiChannel) -> None:
        outcome = await self.run(channel)
        await channel.set_variable("HOTLINE_SKILL", outcome.skill)
        await channel.set_variable("HOTLINE_PRIORITY", str(outcome.priority))
        await channel.set_variable("HOTLINE_IVR_PATH", ">".join(outcome.path))
        await channel.set_variable("HOTLINE_NEXT", outcome.next)

    def is_open(self) -> bool:
        if self._hours is None:
            return True
        return self._hours.is_open(datetime.fromtimestamp(self._clock(), UTC))

    async def run(self, channel: AgiChannel) -> IvrOutcome:
        if not self.is_open():
            await channel.stream_file("hotline/closed", escape="")
            return IvrOutcome(
                skill=self._default_skill, path=["closed", "voicemail"], next="voicemail"
            )
        path = ["greeting"]
        key = await channel.stream_file("hotline/greeting")
        timeout_ms = int(self._cfg.digit_timeout_s * 1000)
        for _attempt in range(self._cfg.max_failures):
            if key is None:
                key = await channel.get_data("hotline/menu", timeout_ms, 1)
            if key is not None and key in self._cfg.menu:
                path.append(f"menu:{key}")
                return IvrOutcome(skill=self._cfg.menu[key], path=path)
            path.append("timeout" if key is None else f"invalid:{key[:1]}")
            key = await channel.stream_file("hotline/invalid")
        path.append("to-agent")
        return IvrOutcome(skill=self._default_skill, path=path)
