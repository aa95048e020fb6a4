"""The browser softphone's configuration: seats, rendered Asterisk files, certificate, the
baresip recipe (no Asterisk, no browser)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotline.asterisk.render import render_all
from hotline.asterisk.webrtc import softphone_settings, tls_files
from hotline.base.settings import ConfigError, browser_seat
from hotline.desk.softphone_cli import account_line, baresip_config, server_host
from tests.asterisk.test_asterisk_config import DIRS, cfg_with


def test_a_browser_seat_is_a_configured_seat_and_validates_as_a_dial_string(
    tmp_path: Path,
) -> None:
    cfg = cfg_with(tmp_path, '[[agents]]\nid = "1001"\nseat = "PJSIP/webrtc-1001"\n')
    assert cfg.agents[0].dial_string == "PJSIP/webrtc-1001" == browser_seat("1001")
    assert "PJSIP/webrtc-1001" in cfg.seats
    off = cfg_with(tmp_path, '[webrtc]\nenabled = false\n[[agents]]\nid = "7"\n')
    assert "PJSIP/webrtc-7" not in off.seats  # no browser endpoint, no browser seat
    with pytest.raises(ConfigError, match=r"agents\[0\]\.id 'webrtc-7'"):
        cfg_with(tmp_path, '[[agents]]\nid = "webrtc-7"\n')
    with pytest.raises(ConfigError, match=r"webrtc\.ws_url"):
        cfg_with(tmp_path, '[webrtc]\nws_url = "wss://x/ws\\n[evil]"\n')
    with pytest.raises(ConfigError, match="give both or neither"):
        cfg_with(tmp_path, '[webrtc]\ntls_cert_file = "/etc/c.pem"\n')


def test_browser_url_is_loopback_ws_or_wss_on_the_tls_address(tmp_path: Path) -> None:
    assert cfg_with(tmp_path).webrtc.browser_url == "ws://127.0.0.1:8088/ws"
    far = cfg_with(tmp_path, '[webrtc]\ntls_bind = "10.1.2.3"\ntls_port = 9443\n')
    assert far.webrtc.browser_url == "wss://10.1.2.3:9443/ws"
    settings = softphone_settings(far)
    assert settings is not None and settings.origin == "wss://10.1.2.3:9443"


def test_every_agent_gets_a_webrtc_endpoint_with_its_own_password(tmp_path: Path) -> None:
    cfg = cfg_with(
        tmp_path,
        '[[agents]]\nid = "1001"\nsip_password = "desk-phone-password-1"\n'
        '[[agents]]\nid = "1002"\nseat = "Local/1002@x"\n',
    )
    files = render_all(cfg, DIRS, managed=True)
    pjsip, http = files["pjsip.conf"], files["http.conf"]
    for agent in ("1001", "1002"):
        password = (tmp_path / f"sip-password-webrtc-{agent}").read_text().strip()
        assert len(password) >= 24 and f"password = {password}" in pjsip
        assert f"[webrtc-{agent}]" in pjsip
    assert "desk-phone-password-1" not in pjsip.split("[webrtc-1001]", 1)[1]
    assert pjsip.count("\nwebrtc = yes") == 2 and "protocol = wss" in pjsip
    assert "enabled = yes" in http and "bindaddr = 127.0.0.1" in http
    assert "tlscertfile = /srv/hotline/t/etc/webrtc-cert.pem" in http
    modules = files["modules.conf"]
    assert "res_http_websocket.so" not in modules
    assert "res_pjsip_transport_websocket.so" not in modules


def test_switched_off_there_is_no_endpoint_and_no_http_server(tmp_path: Path) -> None:
    files = render_all(cfg_with(tmp_path, "[webrtc]\nenabled = false\n"), DIRS, managed=True)
    assert "\nwebrtc = yes" not in files["pjsip.conf"]
    assert "enabled = no" in files["http.conf"] and "tlsenable = no" in files["http.conf"]
    assert not (tmp_path / "webrtc-tls").exists()


def test_the_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    cfg = cfg_with(tmp_path)
    cert, key = tls_files(cfg)
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert os.stat(key.parent).st_mode & 0o077 == 0
    before = key.read_bytes()
    assert tls_files(cfg) == (cert, key) and key.read_bytes() == before  # kept, not remade
    # An external Asterisk reads it where it was made.
    http = render_all(cfg, {}, managed=False)["http.conf"]
    assert f"tlsprivatekey = {key}" in http


def test_baresip_recipe_listens_on_its_own_port_and_never_on_lo(tmp_path: Path) -> None:
    cfg = cfg_with(tmp_path, '[[agents]]\nid = "1001"\nsip_password = "generate"\n')
    host = server_host(cfg, None)
    text = baresip_config(host, port=5080, sound_card=False, snd_dir=tmp_path)
    assert "sip_listen 127.0.0.1:5080" in text and "net_interface" not in text
    assert "audio_source ausine,440" in text and "aufile" not in text
    line = account_line(cfg, cfg.agents[0], host, "pw", auto_answer=False)
    assert line.startswith("<sip:1001@127.0.0.1:5060;transport=udp>;auth_pass=pw;")
    assert server_host(cfg, "10.0.0.5") == "10.0.0.5"
    far = baresip_config("10.0.0.5", port=5080, sound_card=True, snd_dir=tmp_path)
    assert "sip_listen 0.0.0.0:5080" in far and "audio_source alsa,default" in far


def test_install_config_for_an_external_asterisk_brings_the_certificate(tmp_path: Path) -> None:
    from hotline.app.cli import install_external_config

    target = tmp_path / "etc-asterisk"
    cfg = cfg_with(tmp_path, f'[asterisk]\nconfig_install_path = "{target}"\n')
    install_external_config(cfg)
    http = (target / "http.conf").read_text()
    assert f"tlsprivatekey = {target}/webrtc-key.pem" in http
    key = target / "webrtc-key.pem"
    assert key.read_text() == (tmp_path / "webrtc-tls" / "webrtc-key.pem").read_text()
    assert os.stat(key).st_mode & 0o777 == 0o640  # the asterisk group's, nobody else's
