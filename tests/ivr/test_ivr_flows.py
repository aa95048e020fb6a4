"""The IVR flows against a scripted channel: what they play, raise and decide, key by key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from hotline.asterisk.agi import AgiChannel
from hotline.base.settings import ConfigError, IvrConfig, load_config
from hotline.ivr.flow import DirectFlow, MenuFlow, WaitingKeyFlow
from hotline.ivr.menus import MenuExit
from hotline.ivr.ticket_status import TicketStatus, ticket_status_dialog
from hotline.tickets.numbers import make_ticket_number

SKILLS = {"general", "consult", "request", "english"}


class ScriptedChannel:
    """Keys the caller presses, in order, for each prompt that listens; everything recorded."""

    def __init__(self, keys: list[str | None], variables: dict[str, str] | None = None) -> None:
        self.keys = list(keys)
        self.played: list[str] = []
        self.events: list[tuple[str, dict[str, str]]] = []
        self.variables = dict(variables or {})
        self.executed: list[tuple[str, str]] = []
        self.headers = {"agi_uniqueid": "c1", "agi_channel": "PJSIP/trunk-1", "agi_arg_1": ""}
        self.unique_id = "c1"

    def _next(self) -> str | None:
        return self.keys.pop(0) if self.keys else None

    async def stream_file(self, prompt: str, escape: str = "0123456789*#") -> str | None:
        self.played.append(prompt)
        return self._next() if escape else None

    async def get_data(self, prompt: str, timeout_ms: int, max_digits: int) -> str | None:
        self.played.append(prompt)
        return self._next()

    async def say_number(self, number: int) -> None:
        self.played.append(f"#{number}")

    async def user_event(self, name: str, **headers: str) -> None:
        self.events.append((name, headers))

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    async def exec(self, application: str, options: str = "") -> str:
        self.executed.append((application, options))
        return "0"

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


def chan(keys: list[str | None], **variables: str) -> Any:
    return ScriptedChannel(keys, variables)


def as_agi(c: ScriptedChannel) -> AgiChannel:
    return cast(AgiChannel, c)


def ivr_cfg(**over: Any) -> IvrConfig:
    return IvrConfig(**{"digit_timeout_s": 1, "max_failures": 2, **over})


async def no_tickets(number: str) -> TicketStatus | None:
    return None


async def test_direct_flow_queues_before_the_greeting_and_waits_with_no_key() -> None:
    c = chan([None])
    out = await DirectFlow(ivr_cfg(), "general", skills=SKILLS).run(as_agi(c))
    assert c.names() == ["HotlineQueued"]
    assert c.events[0][1]["Skill"] == "general" and c.events[0][1]["IvrPath"] == "direct"
    assert c.played == ["hotline/greeting-direct"]  # queued first, then the greeting
    assert (out.next, out.path, out.skill) == ("queued", ["direct"], "general")


async def test_direct_flow_key_9_during_the_greeting_leaves_the_queue_for_voicemail() -> None:
    c = chan(["9"])
    out = await DirectFlow(ivr_cfg(), "general", skills=SKILLS).run(as_agi(c))
    assert c.names() == ["HotlineQueued", "HotlineLeftQueue"]
    assert c.events[1][1]["Reason"] == "voicemail"
    assert out.next == "voicemail" and out.path == ["direct", "key:9"]


async def test_waiting_key_1_asks_for_english_agents_and_english_prompts() -> None:
    c = chan([], HOTLINE_SKILL="general", HOTLINE_IVR_PATH="direct")
    c.headers["agi_arg_1"] = "1"
    out = await WaitingKeyFlow(ivr_cfg(), "general", skills=SKILLS).run(as_agi(c))
    assert c.events == [("HotlineNeed", {"CallId": "c1", "Skill": "english", "CallPriority": "0"})]
    assert ("Set", "CHANNEL(language)=en") in c.executed
    assert out.next == "queued" and out.path == ["direct", "key:1"] and out.skill == "english"


async def test_a_built_in_exit_to_a_skill_nobody_has_falls_back_to_the_default() -> None:
    c = chan([], HOTLINE_SKILL="general")
    c.headers["agi_arg_1"] = "1"
    out = await WaitingKeyFlow(ivr_cfg(), "general", skills={"general"}).run(as_agi(c))
    assert c.events[0][1]["Skill"] == "general" and out.skill == "general"


async def test_waiting_key_callback_keeps_the_place_and_hangs_up() -> None:
    c = chan([], HOTLINE_SKILL="general", HOTLINE_CALLER="13800000000")
    c.headers["agi_arg_1"] = "3"
    out = await WaitingKeyFlow(ivr_cfg(), "general", skills=SKILLS).run(as_agi(c))
    assert c.events == [("HotlineCallbackAccepted", {"CallId": "c1", "Number": "13800000000"})]
    assert out.next == "hangup"


async def test_an_unknown_waiting_key_says_so_and_the_caller_keeps_waiting() -> None:
    c = chan([], HOTLINE_SKILL="consult")
    c.headers["agi_arg_1"] = "7"
    out = await WaitingKeyFlow(ivr_cfg(), "general", skills=SKILLS).run(as_agi(c))
    assert c.events == [] and c.played == ["hotline/invalid"]
    assert out.next == "queued" and out.skill == "consult" and out.path[-1] == "invalid"


async def test_ticket_number_is_checked_then_looked_up_then_read_back() -> None:
    good = make_ticket_number(datetime(2026, 11, 23).date(), 7)
    typo = good[:-1] + str((int(good[-1]) + 1) % 10)
    unknown = make_ticket_number(datetime(2026, 11, 23).date(), 8)
    due = datetime(2026, 12, 21, 9, 30, tzinfo=UTC)

    async def lookup(number: str) -> TicketStatus | None:
        return TicketStatus(number, "in_progress", due) if number == good else None

    c = chan([None, "123", typo, unknown, good])
    path: list[str] = []
    found = await ticket_status_dialog(
        as_agi(c), lookup, path, max_failures=5, digit_timeout_ms=1000
    )
    assert found is not None and found.number == good
    assert path == [
        "ticket:timeout", "ticket:invalid", "ticket:invalid", "ticket:unknown",
        "ticket:in-progress",
    ]  # fmt: skip
    assert c.events[-1] == (
        "HotlineTicketStatus",
        {"CallId": "c1", "Ticket": good, "State": "in_progress", "Due": "2026-12-21"},
    )
    assert c.played[-6:] == [
        "hotline/ticket-in-progress", "hotline/ticket-due", "#12", "hotline/month", "#21",
        "hotline/day",
    ]  # fmt: skip


async def test_ticket_dialog_gives_up_after_the_allowed_failures() -> None:
    c = chan(["1", "2"])
    path: list[str] = []
    found = await ticket_status_dialog(
        as_agi(c), no_tickets, path, max_failures=2, digit_timeout_ms=1000
    )
    assert found is None and path == ["ticket:invalid", "ticket:invalid"]


async def test_menu_flow_language_choice_sends_english_callers_to_english_agents() -> None:
    cfg = ivr_cfg(languages={"1": "zh", "2": "en"})
    c = chan([None, "2"])
    out = await MenuFlow(cfg, "general", skills=SKILLS).run(as_agi(c))
    assert out.path == ["greeting", "lang:en"] and out.skill == "english"
    assert ("Set", "CHANNEL(language)=en") in c.executed


async def test_menu_flow_mandarin_then_each_exit_sets_skill_and_priority() -> None:
    cfg = ivr_cfg(
        languages={"1": "zh", "2": "en"},
        menu={"1": MenuExit(skill="consult", priority=2), "0": MenuExit(skill="general")},
    )
    c = chan([None, "1", "1"])
    out = await MenuFlow(cfg, "general", skills=SKILLS).run(as_agi(c))
    assert out.path == ["greeting", "lang:zh", "menu:1"]
    assert (out.skill, out.priority) == ("consult", 2)


async def test_menu_ticket_status_returns_to_the_menu() -> None:
    c = chan([None, "3", None, None, "0"])  # two time-outs end the ticket dialog
    out = await MenuFlow(ivr_cfg(), "general", skills=SKILLS, tickets=no_tickets).run(as_agi(c))
    assert out.path[:2] == ["greeting", "menu:3"]
    assert out.path[-1] == "menu:0" and out.skill == "general"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[ivr.menu]\n"12" = "general"\n', "'12'"),
        ('[ivr.menu]\n"5" = { action = "callback" }\n', "ivr.menu key '5'"),
        ('[ivr.menu]\n"5" = { action = "dance" }\n', "ivr.menu.5"),
        ('[ivr.menu]\n"4" = "no-such-skill"\n', "ivr.menu key '4': no agent has skill"),
        ('[ivr.waiting_keys]\n"8" = "no-such-skill"\n', "ivr.waiting_keys key '8'"),
        ('[ivr]\nlanguages = { "3" = "fr" }\n', "ivr.languages key '3'"),
    ],
)
def test_a_bad_menu_is_refused_at_start_naming_the_key(
    tmp_path: Path, toml: str, named: str
) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert named in str(err.value)


def test_the_default_flow_is_the_national_standards_direct_one() -> None:
    cfg = load_config(environ={})
    assert cfg.ivr.flow == "direct"
    assert {k: e.action for k, e in cfg.ivr.waiting_keys.items()} == {
        "1": "queue", "2": "ticket-status", "3": "callback", "9": "voicemail",
    }  # fmt: skip
