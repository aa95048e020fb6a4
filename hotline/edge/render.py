"""Kamailio's configuration: kamailio-config/kamailio.cfg with {{name}} filled in, and the
dispatcher's list of nodes. Values are checked by full match, never escaped: a password or an
address that could end a string or a statement in kamailio.cfg is refused."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from hotline.asterisk.render import RenderError, fill
from hotline.base.secrets import sip_password
from hotline.base.settings import Config, NodeConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "kamailio-config"
DISPATCHER_SET = 1
_SAFE_PASSWORD = re.compile(r"[A-Za-z0-9_.~!@#%^&*+=:,/-]{1,128}")
_AGENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _address(value: str, key: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise RenderError(f"{key}: {value!r} is not an IP address") from None


def agent_passwords(cfg: Config) -> str:
    """The PASSWORDS route: one line per agent with a SIP password (0600 file, never logged)."""
    lines = []
    for agent in cfg.agents:
        password = sip_password(cfg.paths.state_dir, agent.id, agent.sip_password)
        if not password:
            continue
        if not _AGENT_ID.fullmatch(agent.id):
            raise RenderError(f"agents.id {agent.id!r}: not usable as a SIP user")
        if not _SAFE_PASSWORD.fullmatch(password):
            raise RenderError(
                f"agents.sip_password (agent {agent.id}): only letters, digits and "
                "_.~!@#%^&*+=:,/- may be used at the edge"
            )
        lines.append(f'\tif ($au == "{agent.id}") {{ $var(pw) = "{password}"; }}')
    return "\n".join(lines) if lines else "\t# (no agent has a sip_password)"


def agent_ids(cfg: Config) -> str:
    """The AGENTS route: a node's call to one of these goes to the location, never out."""
    lines = []
    for agent in cfg.agents:
        if not _AGENT_ID.fullmatch(agent.id):
            raise RenderError(f"agents.id {agent.id!r}: not usable as a SIP user")
        lines.append(f'\tif ($rU == "{agent.id}") {{ $var(agent) = 1; }}')
    return "\n".join(lines) if lines else "\t# (no agents)"


def _host_port(value: str, key: str) -> tuple[str, int | None]:
    host, _, port = value.partition(":")
    address = _address(host, key)
    if not port:
        return address, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise RenderError(f"{key}: {value!r} has no usable port")
    return address, int(port)


def carriers(cfg: Config) -> str:
    """The CARRIERS route: the allow-list of sources of citizens' calls (ip or ip:port)."""
    lines = []
    for entry in cfg.edge.carriers:
        address, port = _host_port(entry, "edge.carriers")
        port_test = f" && $sp == {port}" if port else ""
        lines.append(f'\tif ($si == "{address}"{port_test}) {{ $var(carrier) = 1; }}')
    return "\n".join(lines) if lines else "\t# (no carriers: every call in is refused)"


def outbound(cfg: Config) -> str:
    """The OUTBOUND route: a node's call to a number goes to the carrier's gateway."""
    if not cfg.edge.outbound:
        return '\tsl_send_reply("480", "No outbound carrier ([edge] outbound)");\n\texit;'
    address, port = _host_port(cfg.edge.outbound, "edge.outbound")
    return f'\t$du = "sip:{address}:{port or 5060}";\n\troute(RELAY);'


def node_uri(cfg: Config, node: NodeConfig) -> str:
    return f"sip:{_address(node.address, f'nodes.{node.name}.address')}:{cfg.asterisk.sip_port}"


def dispatcher_list(cfg: Config) -> str:
    """setid destination flags priority attrs: every node in one set, named by duid."""
    lines = ["# setid destination flags priority attributes (rendered by hotline)"]
    for node in cfg.nodes:
        lines.append(f"{DISPATCHER_SET} {node_uri(cfg, node)} 0 0 duid={node.name}")
    return "\n".join(lines) + "\n"


def render(cfg: Config, run_dir: Path, config_dir: Path = CONFIG_DIR) -> dict[str, str]:
    """File name -> text: kamailio.cfg and dispatcher.list."""
    e = cfg.edge
    values = {
        "listen": _address(e.listen, "edge.listen"),
        "port": str(e.port),
        "dialled": e.dialled,
        "ping_interval_s": str(e.ping_interval_s),
        "probe_timeout_ms": str(e.probe_timeout_ms),
        "modules_dir": _plain_path(e.modules_dir, "edge.modules_dir"),
        "list_file": _plain_path(run_dir / "dispatcher.list", "paths.state_dir"),
        "agent_passwords": agent_passwords(cfg),
        "agent_ids": agent_ids(cfg),
        "carriers": carriers(cfg),
        "outbound": outbound(cfg),
    }
    template = (config_dir / "kamailio.cfg").read_text(encoding="utf-8")
    return {
        "kamailio.cfg": fill(template, values, "kamailio.cfg"),
        "dispatcher.list": dispatcher_list(cfg),
    }


def _plain_path(path: Path, key: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_./+-]+", str(path)):
        raise RenderError(f"{key}: {path} must be a plain path (letters, digits, _./+-)")
    return str(path)
