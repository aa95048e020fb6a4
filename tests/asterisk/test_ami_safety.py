"""Nothing unchecked reaches an AMI action (issue 13, item 2): the client, the configuration,
the seats, a requeued caller's id and the AMI login's permissions. No Asterisk needed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hotline.acd.agents import AgentService, UnknownSeat
from hotline.acd.consumer import caller_digits
from hotline.acd.core import Acd, AcdError
from hotline.acd.events import AgentLoggedIn
from hotline.acd.service import AcdService
from hotline.asterisk.ami.client import AmiClient, UnsafeAction, check_action
from hotline.asterisk.render import render_all
from hotline.base.settings import AgentSeed, ConfigError, load_config
from hotline.calls.tracker import CallTracker

EVIL = "PJSIP/1001\r\n\r\nAction: Originate\r\nApplication: System\r\nData: id"


@pytest.mark.parametrize(
    "action",
    [
        {"Action": "Originate", "Channel": EVIL},
        {"Action": "Originate", "Channel": "PJSIP/1001", "Variable": ["A=1", "B=2\nAction: X"]},
        {"Action": "Setvar", "Channel": "PJSIP/1", "Variable": "X", "Value": "a\rb"},
        {"Action": "Hangup", "Channel\r\nAction: Command": "PJSIP/1"},
        {"Action": "Hangup", "Channel": "PJSIP/1\x00"},
        {"Action": "Hangup\x1b", "Channel": "PJSIP/1"},
    ],
)
def test_the_client_refuses_control_characters_in_any_header(action: dict[str, Any]) -> None:
    with pytest.raises(UnsafeAction):
        check_action(action)


def test_send_refuses_before_anything_is_written() -> None:
    async def go() -> None:
        client = AmiClient("127.0.0.1", 1, "u", "s")  # never connected
        with pytest.raises(UnsafeAction, match="control character"):
            await client.send({"Action": "Originate", "Channel": EVIL})

    asyncio.run(go())


def test_ordinary_actions_pass() -> None:
    check_action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/1001",
            "CallerID": '"138 0013 8000" <13800138000>',
            "Variable": ["HOTLINE_CALL=1.2", "HOTLINE_AGENT=1001"],
            "Timeout": 15000,
        }
    )


@pytest.mark.parametrize(
    "toml",
    [
        "[[departments.lines]]\nnumber = '12315'\nname = 'x'\ndial = 'PJSIP/1\\nAction: X'\n",
        "[[departments.lines]]\nnumber = '12315'\nname = 'x'\ndial = 'PJSIP/1,,,x'\n",
        "[[departments.lines]]\nnumber = '12315'\nname = 'x'\ndial = 'Local/${SHELL(id)}'\n",
        "[emergency]\ndial = 'PJSIP/{number}@trunk\\r\\nAction: X'\n",
        "[emergency]\ndial = 'PJSIP/110@trunk'\n",
        "[acd]\ncallback_dial = 'PJSIP/{number}@t&PJSIP/2'\n",
        "[acd]\ncallback_dial = 'PJSIP/{number}\\r\\n'\n",
        "[acd]\nseats = ['PJSIP/1;x']\n",
        "[[agents]]\nid = '1001'\nseat = 'PJSIP/1001\\r\\n\\r\\nAction: Originate'\n",
        "[[agents]]\nid = '1001'\nseat = 'PJSIP/1001 '\n",
    ],
)
def test_configuration_refuses_bad_dial_strings(tmp_path: Path, toml: str) -> None:
    path = tmp_path / "h.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match="dial string"):
        load_config(path, environ={})


def test_configured_seats_are_the_agents_own_and_the_extra_ones(tmp_path: Path) -> None:
    path = tmp_path / "h.toml"
    path.write_text(
        "[acd]\nseats = ['Local/7@hot-desk']\n[[agents]]\nid = '1001'\n"
        "[[agents]]\nid = '1002'\nseat = 'SIP/1002@pbx'\n",
        encoding="utf-8",
    )
    cfg = load_config(path, environ={})
    # Every agent also has a browser seat (webrtc) unless the softphone is off.
    browsers = {"PJSIP/webrtc-1001", "PJSIP/webrtc-1002"}
    assert cfg.seats == {"PJSIP/1001", "SIP/1002@pbx", "Local/7@hot-desk"} | browsers


class _NoAcd:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def handle(self, event: Any) -> list[Any]:
        self.events.append(event)
        return []


def test_agent_login_takes_only_a_configured_seat() -> None:
    acd = _NoAcd()
    seeds = {"1001": AgentSeed(id="1001")}
    agents = AgentService(acd, seeds, seats=["Local/7@hot-desk"])  # type: ignore[arg-type]

    async def go() -> None:
        for seat in (EVIL, "PJSIP/1001 ", "PJSIP/1002", "pjsip/1001"):
            with pytest.raises(UnknownSeat):
                await agents.login("1001", seat)
        await agents.login("1001", "Local/7@hot-desk")
        await agents.login("1001")

    asyncio.run(go())
    assert [e.seat for e in acd.events] == ["Local/7@hot-desk", "PJSIP/1001"]


def test_a_restored_snapshot_with_an_unconfigured_seat_is_refused() -> None:
    acd = Acd()
    acd.handle(AgentLoggedIn(agent_id="1001", seat=EVIL, skills=(("general", 1),), at=1.0))
    snapshot = {"acd": acd.snapshot(), "legs": {}, "calls": {}}
    service = AcdService(
        Acd(),
        None,
        None,
        None,
        CallTracker(),
        seats=frozenset({"PJSIP/1001"}),  # type: ignore[arg-type]
    )
    with pytest.raises(AcdError, match="not a configured dial string"):
        service.restore(snapshot)
    assert service.acd.agents() == []  # nothing taken from it
    good = Acd()
    good.handle(AgentLoggedIn(agent_id="1001", seat="PJSIP/1001", skills=(("g", 1),), at=1.0))
    service.restore({"acd": good.snapshot()})
    assert [a.seat for a in service.acd.agents()] == ["PJSIP/1001"]


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("1\r\n\r\nAction: Originate", "1"),
        ('"x" <1>', "1"),
        ("*#12", "*#12"),
    ],
)
def test_a_requeued_callers_id_gets_the_dialplans_digit_filter(raw: str, digits: str) -> None:
    assert caller_digits(raw) == digits


def test_the_ami_login_has_no_system_or_command_permission(tmp_path: Path) -> None:
    path = tmp_path / "h.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n', encoding="utf-8")
    dirs = {f"{n}_dir": f"/x/{n}" for n in ("etc", "run", "log", "spool", "lib", "cache", "mod")}
    manager = render_all(load_config(path, environ={}), dirs, managed=True)["manager.conf"]
    perms = {
        line.split("=")[0].strip(): {c.strip() for c in line.split("=")[1].split(",")}
        for line in manager.splitlines()
        if line.startswith(("read ", "write "))
    }
    assert perms == {"read": {"call", "user"}, "write": {"call", "originate", "user", "reporting"}}
    assert "-test]" not in manager  # the tests' own login only with asterisk.test_contexts
