"""Files and secrets (issue 13, item 5): secrets created 0600 whatever the umask, never printed
by `hotline config show` or the start banner; demo SIP passwords refused off loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.app.cli import _banner
from hotline.asterisk.render import render_all, write_all
from hotline.base.secrets import MASK, api_token, sip_password, stored_secret
from hotline.base.settings import Config, ConfigError, load_config

SECRETS = {
    "ami": "ami-secret-Zq81",
    "token": "api-token-Yw52",
    "mqtt": "mqtt-password-Xv33",
    "sip": "sip-password-Wu44-long",
    "pg": "pg-password-Vt55",
    "redis": "redis-password-Us66",
}
CONFIG = f"""
[ami]
secret = "{SECRETS["ami"]}"
[http]
api_token = "{SECRETS["token"]}"
[mqtt]
username = "engine"
password = "{SECRETS["mqtt"]}"
[database]
url = "postgresql+psycopg://hotline:{SECRETS["pg"]}@db.example:5432/hotline"
[redis]
url = "redis://engine:{SECRETS["redis"]}@127.0.0.1:6379/0"
[[agents]]
id = "1001"
sip_password = "{SECRETS["sip"]}"
"""

DIRS = {f"{n}_dir": f"/srv/hotline/t/{n}" for n in ("etc", "run", "log", "spool", "lib", "cache")}
DIRS["mod_dir"] = "/usr/lib/x86_64-linux-gnu/asterisk/modules"


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The widest umask: a mode that holds here was given at creation, not by the umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path / "state"}"\n{text}', encoding="utf-8")
    return path


def test_config_show_masks_every_secret(tmp_path: Path) -> None:
    path = _config(tmp_path, CONFIG)
    shown = subprocess.run(
        [sys.executable, "-m", "hotline", "-c", str(path), "config", "show"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    for name, secret in SECRETS.items():
        assert secret not in shown.stdout, name
    assert MASK in shown.stdout
    assert "db.example:5432" in shown.stdout and '"username": "engine"' in shown.stdout


def test_the_banner_names_files_and_prints_no_secret(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, ""), environ={})
    token = api_token(cfg.paths.state_dir)
    sip = sip_password(cfg.paths.state_dir, "1001", cfg.agents[0].sip_password)
    banner = _banner(cfg)
    assert token not in banner and sip not in banner and "demo-1001" not in banner
    assert f"{cfg.paths.state_dir}/api-token" in banner
    assert f"{cfg.paths.state_dir}/sip-password-1001" in banner
    configured = load_config(_config(tmp_path, CONFIG), environ={})
    banner = _banner(configured)
    for name, secret in SECRETS.items():
        assert secret not in banner, name


@pytest.mark.usefixtures("umask_zero")
def test_secrets_and_asterisk_files_are_created_0600(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stored_secret(state, "ami-secret")
    assert (state / "ami-secret").stat().st_mode & 0o777 == 0o600
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / ".manager.conf.tmp").write_text("left by a crash")
    os.chmod(etc / ".manager.conf.tmp", 0o666)  # O_CREAT alone would keep this mode
    cfg = load_config(_config(tmp_path, ""), environ={})
    write_all(render_all(cfg, DIRS, managed=True), etc)
    for conf in etc.iterdir():
        assert conf.stat().st_mode & 0o777 == 0o600, conf


def test_generated_demo_passwords_are_kept_and_private(tmp_path: Path) -> None:
    cfg = load_config(_config(tmp_path, ""), environ={})
    first = sip_password(cfg.paths.state_dir, "1001", cfg.agents[0].sip_password)
    assert first == sip_password(cfg.paths.state_dir, "1001", "generate")
    assert first != sip_password(cfg.paths.state_dir, "1002", "generate")
    assert (cfg.paths.state_dir / "sip-password-1001").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("password", ["demo-1001", "demo-1002", "short-pw"])
def test_weak_sip_passwords_are_refused_off_loopback(tmp_path: Path, password: str) -> None:
    agents = f'[[agents]]\nid = "1001"\nsip_password = "{password}"\n'
    load_config(_config(tmp_path, agents), environ={})  # on 127.0.0.1: a lab, allowed
    with pytest.raises(ConfigError, match=r"agents\.0\.sip_password|agents\[0\]\.sip_password"):
        load_config(_config(tmp_path, f'[asterisk]\nsip_bind = "0.0.0.0"\n{agents}'), environ={})


def test_the_default_demo_seats_start_off_loopback_with_generated_passwords(
    tmp_path: Path,
) -> None:
    cfg: Config = load_config(_config(tmp_path, '[asterisk]\nsip_bind = "0.0.0.0"\n'), {})
    assert {a.sip_password for a in cfg.agents} == {"generate"}
    files = render_all(cfg, DIRS, managed=True)
    assert "demo-100" not in files["pjsip.conf"]


def test_audio_is_refused_inside_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for key in ("[paths]\naudio_dir", "[recordings]\ndir", "[recordings]\nvoicemail_dir"):
        section, name = key.split("\n")
        text = f'[paths]\ncache_dir = "{cache}"\n'
        text = (
            text.replace("[paths]\n", f'[paths]\n{name} = "{cache}/audio"\n')
            if (section == "[paths]")
            else text + f'{section}\n{name} = "{cache}/rootfs/spool"\n'
        )
        path = tmp_path / "h.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=r"inside paths\.cache_dir"):
            load_config(path, environ={})
