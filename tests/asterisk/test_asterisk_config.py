"""The Asterisk configuration we render, and the root filesystem recipe (no Asterisk needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.asterisk.render import RenderError, fill, render_all
from hotline.asterisk.rootfs import apt_mirror, recipe_hash
from hotline.base.settings import Config, load_config


def cfg_with(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "h.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path}"\n{extra}', encoding="utf-8")
    return load_config(path, environ={})


DIRS = {
    f"{n}_dir": f"/srv/hotline/t/{n}" for n in ("etc", "run", "log", "spool", "lib", "cache")
} | {"mod_dir": "/usr/lib/x86_64-linux-gnu/asterisk/modules"}


def test_every_placeholder_is_filled_and_secrets_land(tmp_path: Path) -> None:
    files = render_all(cfg_with(tmp_path), DIRS, managed=True)
    for name, text in files.items():
        assert "{{" not in text, name
    secret = (tmp_path / "ami-secret").read_text().strip()
    assert f"secret = {secret}" in files["manager.conf"]
    assert "bindaddr = 127.0.0.1" in files["manager.conf"]
    assert "agi://127.0.0.1:4573" in files["extensions.conf"]
    assert "astetcdir => /srv/hotline/t/etc" in files["asterisk.conf"]
    # Demo agents get generated passwords (kept in the state directory), so both get
    # endpoints; test contexts are off by default.
    generated = (tmp_path / "sip-password-1002").read_text().strip()
    assert "[1001]" in files["pjsip.conf"] and f"password = {generated}" in files["pjsip.conf"]
    assert "demo-100" not in files["pjsip.conf"] and len(generated) >= 24
    assert "[test-caller]" not in files["extensions-test.conf"]


def test_agents_without_password_get_no_endpoint_and_test_contexts_switch_on(
    tmp_path: Path,
) -> None:
    cfg = cfg_with(
        tmp_path,
        '[asterisk]\ntest_contexts = true\n[[agents]]\nid = "7"\nseat = "Local/7@x"\n',
    )
    files = render_all(cfg, DIRS, managed=True)
    assert "type = endpoint" in files["pjsip.conf"]  # the trunk
    assert "[7]" not in files["pjsip.conf"]
    assert "[test-caller]" in files["extensions-test.conf"]


def test_external_asterisk_keeps_its_own_directories_and_modules(tmp_path: Path) -> None:
    files = render_all(cfg_with(tmp_path), {}, managed=False)
    assert "asterisk.conf" not in files and "modules.conf" not in files
    assert "extensions.conf" in files


def test_a_value_that_would_inject_config_lines_is_refused(tmp_path: Path) -> None:
    cfg = cfg_with(
        tmp_path, '[[agents]]\nid = "9"\nsip_password = "x\\n[evil]\\ntype = endpoint"\n'
    )
    with pytest.raises(RenderError, match="sip_password"):
        render_all(cfg, DIRS, managed=True)


def test_unknown_placeholder_names_itself() -> None:
    with pytest.raises(RenderError, match="nope"):
        fill("a {{nope}} b", {}, "x.conf")


def test_recipe_hash_changes_with_the_recipe_only() -> None:
    assert recipe_hash("testing") == recipe_hash("testing")
    assert recipe_hash("testing") != recipe_hash("sid")
    assert recipe_hash("testing", ("asterisk",)) != recipe_hash("testing")


def test_mirror_is_read_from_apt_sources(tmp_path: Path) -> None:
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n",
        encoding="utf-8",
    )
    assert apt_mirror(tmp_path) == "http://mirror.example/debian"
    (d / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://m2.example/debian bookworm main\n", encoding="utf-8"
    )
    assert apt_mirror(tmp_path) == "http://m2.example/debian"
    (tmp_path / "sources.list").unlink()
    assert apt_mirror(tmp_path) == "http://deb.debian.org/debian"


def test_the_engine_login_is_sent_only_the_events_it_reads(tmp_path: Path) -> None:
    """manager.conf's eventfilter for the engine's user names every event parse_event reads
    (and panoramisk's OriginateResponse); the Hotline* UserEvents only."""
    from hotline.asterisk.ami.events import parse_event

    conf = render_all(cfg_with(tmp_path), DIRS, managed=True)["manager.conf"]
    engine_user = conf.split("[hotline]", 1)[1].split("\n[", 1)[0]
    filters = [line for line in engine_user.splitlines() if line.startswith("eventfilter")]
    named = {line.split("name(")[1].split(")")[0] for line in filters}
    assert named == {"Newchannel", "Hangup", "OriginateResponse", "UserEvent"}
    assert filters[-1].endswith("header(UserEvent),method(starts_with)) = Hotline")
    # What the engine parses passes the filter; what the filter drops, the engine ignores.
    base = {"Uniqueid": "1.1", "Channel": "PJSIP/x-1", "Timestamp": "1.0"}
    for name in ("Newchannel", "Hangup"):
        assert parse_event({"Event": name, **base}, 0.0) is not None
    for name in ("Newstate", "VarSet", "Newexten", "DialBegin", "BridgeEnter", "MixMonitorStart"):
        assert parse_event({"Event": name, **base}, 0.0) is None
    hotline = {"Event": "UserEvent", "UserEvent": "HotlineArrived", "CallId": "1.1"}
    full = {**hotline, "Caller": "1", "Dialled": "12345", "Channel": "PJSIP/x-1", "LinkedId": "1.1"}
    assert parse_event(full, 0.0) is not None
    assert parse_event({"Event": "UserEvent", "UserEvent": "SomethingElse"}, 0.0) is None
