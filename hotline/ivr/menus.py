"""IVR menus as data: what each key does, checked when the configuration is read.

A centre writes its menus in the configuration (``[ivr.menu]``, ``[ivr.waiting_keys]``,
``[ivr.languages]``); nothing about them is in code. Each key maps to an exit:

- ``queue``: to an agent with ``skill`` (empty: the default skill) at ``priority``;
- ``ticket-status``: the caller keys in a ticket number and hears its state and deadline;
- ``voicemail``: leave a message (the call leaves the queue);
- ``callback`` (while waiting only): hang up and be called back, keeping the place.

A string instead of a table is shorthand for ``{action = "queue", skill = "<string>"}``, so the
first versions' ``"1" = "consult"`` menus still read. Keys are single DTMF digits; a bad key,
action or skill is refused with an error that names the menu and the key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DTMF = "0123456789*#"
MenuAction = Literal["queue", "ticket-status", "voicemail", "callback"]
MAIN_MENU_ACTIONS: tuple[MenuAction, ...] = ("queue", "ticket-status", "voicemail")
WAITING_ACTIONS: tuple[MenuAction, ...] = ("queue", "ticket-status", "voicemail", "callback")


class MenuExit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: MenuAction = "queue"
    skill: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,32}$")
    priority: int = Field(default=0, ge=0, le=9)

    def describe(self) -> str:
        """How the exit is written into the call record's IVR path."""
        return self.skill if self.action == "queue" else self.action


def exits_from_raw(raw: Any) -> Any:
    """Before validation: ``"consult"`` -> ``{"action": "queue", "skill": "consult"}``."""
    if not isinstance(raw, Mapping):
        return raw
    return {k: ({"skill": v} if isinstance(v, str) else v) for k, v in raw.items()}


def check_keys(name: str, keys: Collection[str]) -> None:
    for key in keys:
        if len(key) != 1 or key not in DTMF:
            raise ValueError(f"{name} key {key!r} is not one DTMF digit (0-9, * or #)")


def check_exits(
    name: str,
    exits: Mapping[str, MenuExit],
    allowed: tuple[MenuAction, ...],
    skills: Collection[str] | None,
) -> None:
    """Every exit's action fits the menu and every queue exit goes to a skill someone has
    (``skills`` None: skills not checked, for built-in menus)."""
    check_keys(name, exits)
    for key, exit_ in sorted(exits.items()):
        if exit_.action not in allowed:
            raise ValueError(
                f"{name} key {key!r}: action {exit_.action!r} is not allowed here "
                f"(allowed: {', '.join(allowed)})"
            )
        if skills is None or exit_.action != "queue" or not exit_.skill:
            continue
        if exit_.skill not in skills:
            raise ValueError(
                f"{name} key {key!r}: no agent has skill {exit_.skill!r} "
                f"(skills: {', '.join(sorted(skills))})"
            )
