"""``hotline softphone config AGENT``: a working baresip configuration for an agent's desk seat.

What was found to work with Debian 12's baresip 1.0 (tests/desk/test_softphone_config.py
runs the written files against the real Asterisk):
* ``sip_listen`` on the SIP bind's own address and a port of its own: ``net_interface lo``
  fails, and the default port 5060 is Asterisk's when both run on one machine.
* A microphone that never runs out: the ``aufile`` source ends the call when its file ends,
  so without a sound card (``--no-sound-card``) the source is ``ausine`` (a 440 Hz tone, which
  takes only 48 kHz stereo), the speaker ALSA's ``null`` device (baresip 1.0's ``aufile`` has
  no player), and what the phone hears goes to WAV files (``sndfile``).
* ``stdio`` for the keyboard (a answers, b hangs up) and ``menu`` for the commands.

The password: printed as a recipe that reads it from <state_dir>/sip-password-<id> when it is
generated, never shown on the terminal; ``--write DIR`` writes the files (0600) instead.
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path
from typing import Any

from hotline.base.durable import write_private
from hotline.base.secrets import GENERATE, sip_password
from hotline.base.settings import AgentSeed, Config, load_config

MODULES = Path("/usr/lib/baresip/modules")


def server_host(cfg: Config, given: str | None) -> str:
    """Where the phone registers: --server, else the SIP bind (this machine on a wildcard)."""
    if given:
        return given
    bind = cfg.asterisk.sip_bind
    return "127.0.0.1" if bind in ("0.0.0.0", "::") else bind


def _listen_address(server: str) -> str:
    try:
        loopback = ipaddress.ip_address(server).is_loopback
    except ValueError:
        loopback = server == "localhost"
    return "127.0.0.1" if loopback else "0.0.0.0"


def baresip_config(server: str, *, port: int, sound_card: bool, snd_dir: Path) -> str:
    bind = _listen_address(server)
    if sound_card:
        audio = ["audio_source alsa,default", "audio_player alsa,default",
                 "audio_alert alsa,default", "module alsa.so"]  # fmt: skip
    else:
        audio = [
            "audio_source ausine,440",  # never ends (aufile would hang up at its end)
            "ausrc_srate 48000",  # ausine takes only 48 kHz stereo; baresip resamples
            "ausrc_channels 2",
            "audio_player alsa,null",  # ALSA's null device: no card needed
            "audio_alert alsa,null",
            "module ausine.so",
            "module alsa.so",
            "module sndfile.so",  # what the phone hears: dump-*-dec.wav in snd_path
            f"snd_path {snd_dir}",
        ]
    return "\n".join(
        [
            "# baresip for a 12345 hotline agent seat (hotline softphone config)",
            "poll_method epoll",
            f"sip_listen {bind}:{port}",
            "call_local_timeout 120",
            "call_max_calls 4",
            f"module_path {MODULES}",
            "module g711.so",
            *audio,
            "module stdio.so",
            "module_app account.so",
            "module_app menu.so",
            "",
        ]
    )


def account_line(
    cfg: Config, agent: AgentSeed, host: str, password: str, *, auto_answer: bool
) -> str:
    server = f"{host}:{cfg.asterisk.sip_port}"
    mode = "auto" if auto_answer else "manual"
    return (
        f"<sip:{agent.id}@{server};transport=udp>;auth_pass={password};"
        f"answermode={mode};regint=600\n"
    )


def _agent(cfg: Config, agent_id: str) -> AgentSeed:
    agent = next((a for a in cfg.agents if a.id == agent_id), None)
    if agent is None:
        raise SystemExit(f"hotline softphone: no agent {agent_id!r} in the configuration")
    if not agent.sip_password:
        raise SystemExit(
            f"hotline softphone: agent {agent_id} has no sip_password, so no SIP endpoint "
            '(set agents.sip_password = "generate")'
        )
    return agent


def _write(folder: Path, name: str, text: str) -> None:
    write_private(folder / name, text)


def cmd_softphone(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    agent = _agent(cfg, args.agent)
    folder: Path = args.write or Path(f"$HOME/.baresip-{agent.id}")  # expanded by the shell
    snd_dir = folder
    host = server_host(cfg, args.server)
    config = baresip_config(
        host, port=args.port, sound_card=not args.no_sound_card, snd_dir=snd_dir
    )
    if args.write is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        password = sip_password(cfg.paths.state_dir, agent.id, agent.sip_password)
        _write(folder, "config", config)
        _write(
            folder,
            "accounts",
            account_line(cfg, agent, host, password, auto_answer=args.auto_answer),
        )
        print(f"baresip configuration for agent {agent.id} written to {folder} (0600)")
        print(f"run: baresip -f {folder}")
        return 0
    if agent.sip_password == GENERATE:
        source = f'"$(cat {cfg.paths.state_dir / f"sip-password-{agent.id}"})"'
        note = f"# the password is read from {cfg.paths.state_dir}/sip-password-{agent.id}"
    else:
        source = '"$SIP_PASSWORD"'
        note = f"# set SIP_PASSWORD to agents.sip_password of agent {agent.id} first"
    line = account_line(cfg, agent, host, "%s", auto_answer=args.auto_answer).rstrip("\n")
    print(
        f"""# baresip as the desk phone of agent {agent.id}: paste into a shell
{note} (never shown here)
mkdir -p {folder} && chmod 700 {folder}
cat > {folder}/config <<EOF
{config}EOF
(umask 077; printf '{line}\\n' {source} > {folder}/accounts)
baresip -f {folder}    # keys: a answers, b hangs up, q quits"""
    )
    return 0


def add_softphone_parser(sub: Any) -> None:
    phone = sub.add_parser("softphone", help="a desk softphone (baresip) for an agent's seat")
    phone_sub = phone.add_subparsers(dest="action", required=True)
    conf = phone_sub.add_parser("config", help="print (or --write) a working baresip configuration")
    conf.add_argument("agent", help="agent id (its endpoint PJSIP/<id>)")
    conf.add_argument("--port", type=int, default=5080, help="baresip's own SIP port (5080)")
    conf.add_argument("--write", type=Path, default=None, help="write config and accounts here")
    conf.add_argument(
        "--no-sound-card", action="store_true", help="a test tone as microphone, audio to a file"
    )
    conf.add_argument("--server", default=None, help="Asterisk's address (asterisk.sip_bind)")
    conf.add_argument("--auto-answer", action="store_true", help="answer calls at once")
    phone.set_defaults(func=cmd_softphone)
