"""Our Asterisk configuration: the files in asterisk-config/ with {{name}} filled in."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from hotline.asterisk.ami.events import ENGINE_EVENTS, ENGINE_USER_EVENT_PREFIX
from hotline.base.secrets import sip_password, stored_secret
from hotline.base.settings import Config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "asterisk-config"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Files an external Asterisk keeps its own version of (directories, modules).
MANAGED_ONLY = ("asterisk.conf", "modules.conf")
# Dialplan only the tests and benchmarks run; installed with asterisk.test_contexts = true.
TEST_ONLY = ("extensions-test.conf", "extensions-bench.conf")


class RenderError(ValueError):
    pass


def fill(template: str, values: Mapping[str, str], name: str) -> str:
    def sub(m: re.Match[str]) -> str:
        try:
            return values[m.group(1)]
        except KeyError:
            raise RenderError(f"{name}: no value for {{{{{m.group(1)}}}}}") from None

    return _PLACEHOLDER.sub(sub, template)


def _config_safe(value: str, key: str) -> str:
    # A newline or ';' in a value would inject configuration lines; refuse rather than escape.
    if re.search(r"[\r\n;\[\]]", value):
        raise RenderError(f"{key}: value must not contain newlines, ';' or brackets")
    return value


def agent_endpoints(cfg: Config, config_dir: Path = CONFIG_DIR) -> str:
    template = (config_dir / "agent-endpoint.conf.tmpl").read_text(encoding="utf-8")
    blocks = []
    for agent in cfg.agents:
        password = sip_password(cfg.paths.state_dir, agent.id, agent.sip_password)
        if not password:
            continue
        blocks.append(
            fill(
                template,
                {
                    "agent_id": agent.id,
                    "agent_name": _config_safe(agent.name.replace('"', "") or agent.id, "name"),
                    "agent_password": _config_safe(password, "agents.sip_password"),
                },
                "agent-endpoint.conf.tmpl",
            )
        )
    return "\n".join(blocks) if blocks else "; (no agent has a sip_password)"


def webrtc_endpoints(cfg: Config, config_dir: Path = CONFIG_DIR) -> str:
    """The WebSocket transports and every agent's browser endpoint ([webrtc])."""
    if not cfg.webrtc.enabled:
        return "; (no browser seats: webrtc.enabled = false)"
    from hotline.asterisk.webrtc import browser_password

    template = (config_dir / "webrtc-endpoint.conf.tmpl").read_text(encoding="utf-8")
    # One ws and one wss transport at most; their bind is http.conf's, not this one.
    blocks = [
        "[transport-ws]\ntype = transport\nprotocol = ws\nbind = 127.0.0.1\n",
        "[transport-wss]\ntype = transport\nprotocol = wss\nbind = 0.0.0.0\n",
    ]
    for agent in cfg.agents:
        values = {
            "agent_id": agent.id,
            "agent_name": _config_safe(agent.name.replace('"', "") or agent.id, "name"),
            "agent_password": _config_safe(browser_password(cfg, agent.id), "webrtc password"),
        }
        blocks.append(fill(template, values, "webrtc-endpoint.conf.tmpl"))
    return "\n".join(blocks)


def webrtc_values(cfg: Config, directories: Mapping[str, str]) -> dict[str, str]:
    """http.conf's values: Asterisk reads the certificate from its configuration directory
    (``etc_dir``: the files are copied there), else from where it was made."""
    w = cfg.webrtc
    vals = {
        "webrtc_enabled": "yes" if w.enabled else "no",
        "webrtc_ws_port": str(w.ws_port),
        "webrtc_tls_bind": _config_safe(w.tls_bind, "webrtc.tls_bind"),
        "webrtc_tls_port": str(w.tls_port),
        "webrtc_tls_cert": "",
        "webrtc_tls_key": "",
    }
    if not w.enabled:
        return vals
    from hotline.asterisk.webrtc import CERT_NAME, KEY_NAME, tls_files

    if "etc_dir" in directories:
        cert, key = f"{directories['etc_dir']}/{CERT_NAME}", f"{directories['etc_dir']}/{KEY_NAME}"
    else:
        cert_path, key_path = tls_files(cfg)
        cert, key = str(cert_path), str(key_path)
    vals["webrtc_tls_cert"] = _config_safe(cert, "webrtc.tls_cert_file")
    vals["webrtc_tls_key"] = _config_safe(key, "webrtc.tls_key_file")
    return vals


def ami_test_user(cfg: Config) -> str:
    """A second AMI login for the tests and benchmarks (asterisk.test_contexts only): they
    watch dialplan and DTMF events and add app_queue members, which the engine never does."""
    if not cfg.asterisk.test_contexts:
        return "; (no test login: asterisk.test_contexts = false)"
    secret = stored_secret(cfg.paths.state_dir, "ami-test-secret", "")
    return "\n".join(
        (
            f"[{_config_safe(ami_test_username(cfg), 'ami.username')}]",
            f"secret = {_config_safe(secret, 'ami-test-secret')}",
            "deny = 0.0.0.0/0.0.0.0",
            "permit = 127.0.0.1/255.255.255.255",
            "read = call,user,dialplan,dtmf,agent,reporting",
            "write = call,originate,user,reporting,agent",
            "writetimeout = 5000",
        )
    )


def ami_event_filter() -> str:
    """The engine login's eventfilter lines (Asterisk's hash-matched "advanced" filters, one
    per event name; UserEvents only the dialplan's and the IVR's own, Hotline*)."""
    lines = [f"eventfilter(action(include),name({name})) =" for name in ENGINE_EVENTS]
    lines.append(
        "eventfilter(action(include),name(UserEvent),header(UserEvent),method(starts_with)) = "
        + ENGINE_USER_EVENT_PREFIX
    )
    return "\n".join(lines)


def ami_test_username(cfg: Config) -> str:
    return f"{cfg.ami.username}-test"


def voicemail_dir(directories: Mapping[str, str]) -> str:
    """Where Asterisk writes voicemail (inside its own file system)."""
    return directories.get("spool_dir", "/var/spool/asterisk") + "/hotline-voicemail"


def recordings_dir(directories: Mapping[str, str]) -> str:
    """Where Asterisk records answered calls (MixMonitor; inside its own file system)."""
    return directories.get("spool_dir", "/var/spool/asterisk") + "/hotline-recordings"


def utterance_dir(directories: Mapping[str, str]) -> str:
    """Where Asterisk records callers' sentences for speech intake."""
    return directories.get("spool_dir", "/var/spool/asterisk") + "/hotline-utterances"


def values(cfg: Config, directories: Mapping[str, str]) -> dict[str, str]:
    a = cfg.asterisk
    return {
        **directories,
        "instance": a.instance,
        "ami_port": str(cfg.ami.port),
        "ami_bind": cfg.ami.host,
        "ami_user": _config_safe(cfg.ami.username, "ami.username"),
        "ami_secret": _config_safe(
            stored_secret(cfg.paths.state_dir, "ami-secret", cfg.ami.secret), "ami.secret"
        ),
        "ami_test_user": ami_test_user(cfg),
        "ami_event_filter": ami_event_filter(),
        "fastagi_host": cfg.fastagi.host,
        "fastagi_port": str(cfg.fastagi.port),
        "sip_bind": a.sip_bind,
        "sip_port": str(a.sip_port),
        "rtp_start": str(a.rtp_start),
        "rtp_end": str(a.rtp_end),
        "trunk_match": _config_safe(a.trunk_match, "asterisk.trunk_match"),
        "default_skill": _config_safe(cfg.acd.default_skill, "acd.default_skill"),
        "agent_endpoints": agent_endpoints(cfg),
        "webrtc_endpoints": webrtc_endpoints(cfg),
        **webrtc_values(cfg, directories),
        "voicemail_dir": voicemail_dir(directories),
        "utterance_dir": utterance_dir(directories),
        "recordings_dir": recordings_dir(directories),
        "voicemail_max_s": str(int(cfg.ivr.voicemail_max_s)),
    }


def render_all(
    cfg: Config, directories: Mapping[str, str], *, managed: bool, config_dir: Path = CONFIG_DIR
) -> dict[str, str]:
    """File name -> rendered text, for every .conf in asterisk-config/."""
    vals = values(cfg, directories)
    out: dict[str, str] = {}
    for path in sorted(config_dir.glob("*.conf")):
        if not managed and path.name in MANAGED_ONLY:
            continue
        if path.name in TEST_ONLY and not cfg.asterisk.test_contexts:
            out[path.name] = "; test contexts are off (asterisk.test_contexts = false)\n"
            continue
        out[path.name] = fill(path.read_text(encoding="utf-8"), vals, path.name)
    return out


def write_all(
    files: Mapping[str, str], target: Path, mode: int = 0o600, group_of_target: bool = False
) -> None:
    """Each file through a temporary name, created with its final mode: manager.conf and
    pjsip.conf carry secrets, never readable by others, not even for an instant.
    group_of_target: the files get the folder's group (an external Asterisk reads them as
    the asterisk group; give mode 0o640)."""
    target.mkdir(parents=True, exist_ok=True)
    gid = target.stat().st_gid if group_of_target else -1
    for name, text in files.items():
        tmp = target / f".{name}.tmp"
        tmp.unlink(missing_ok=True)  # O_CREAT keeps an existing file's mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchown(fh.fileno(), -1, gid)
            os.fchmod(fh.fileno(), mode)  # still empty: widening to the group is safe here
            fh.write(text)
        tmp.replace(target / name)
