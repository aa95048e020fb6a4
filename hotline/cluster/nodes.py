"""Each node's own view of the configuration: the Config its managed Asterisk is rendered
from and its AMI client logs in with. One Asterisk (no ``[[nodes]]``) is untouched."""

from __future__ import annotations

import re

from hotline.base.settings import AmiConfig, AsteriskConfig, Config, FastAgiConfig, NodeConfig

# Asterisk's Uniqueid with a systemname: "<systemname>-<epoch>.<sequence>".
_NODE_ID = re.compile(r"(?P<node>[a-z][a-z0-9]{0,15})-[0-9]+\.[0-9]+")


def node_of(call_id: str) -> str:
    """The node a call id (an Asterisk Uniqueid) was made on; "" for one Asterisk's ids."""
    m = _NODE_ID.fullmatch(call_id)
    return m.group("node") if m else ""


def node_config(cfg: Config, node: NodeConfig) -> Config:
    """The configuration of ``node``'s Asterisk: its own instance, addresses and name."""
    a = cfg.asterisk
    asterisk = AsteriskConfig.model_validate(
        {
            **a.model_dump(),
            "instance": f"{a.instance}-{node.name}",
            "sip_bind": node.address,
            "trunk_match": cfg.edge.listen,  # citizens' calls come through the edge only
            "systemname": node.name,
            "trunk_endpoint": f"citizen-{node.name}",
            "edge": f"{cfg.edge.listen}:{cfg.edge.port}",
            "ami_permit": node.engine_address,
            "netns": node.netns,
        }
    )
    ami = AmiConfig.model_validate(
        {
            **cfg.ami.model_dump(),
            "host": node.ami_address,
            "port": node.ami_port,
            "username": node.ami_username or cfg.ami.username,
            "secret": node.ami_secret or cfg.ami.secret,
        }
    )
    fastagi = FastAgiConfig(host=node.engine_address, port=cfg.fastagi.port)
    # Browser seats register to one Asterisk; in a cluster phones register at the edge.
    webrtc = cfg.webrtc.model_copy(update={"enabled": False})
    return cfg.model_copy(
        update={"asterisk": asterisk, "ami": ami, "fastagi": fastagi, "webrtc": webrtc}
    )


def fastagi_hosts(cfg: Config) -> list[str]:
    """Where the engine's FastAGI server listens: every node's way to the engine."""
    if not cfg.clustered:
        return [cfg.fastagi.host]
    return sorted({node.engine_address for node in cfg.nodes})
