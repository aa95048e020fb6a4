"""The browser softphone's side of Asterisk: a PJSIP endpoint per agent reached over the SIP
WebSocket transport, DTLS-SRTP audio, and the TLS certificate of the wss:// listener.

The certificate is made once at setup with openssl (self-signed, 10 years, its key 0600 in
<state_dir>/webrtc-tls/) unless ``webrtc.tls_cert_file`` names the centre's own. The browser
endpoint has its own generated password (<state_dir>/sip-password-webrtc-<id>): the desk
phone's password never reaches a browser.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from hotline.base.secrets import stored_secret
from hotline.base.settings import WEBRTC_PREFIX, Config

TLS_DIR = "webrtc-tls"
CERT_NAME = "webrtc-cert.pem"
KEY_NAME = "webrtc-key.pem"


class WebrtcSetupError(RuntimeError):
    """The certificate could not be made; the message says why."""


def endpoint_name(agent_id: str) -> str:
    return f"{WEBRTC_PREFIX}{agent_id}"


def browser_password(cfg: Config, agent_id: str) -> str:
    """The browser endpoint's SIP password (generated once, 0600 in the state directory)."""
    return stored_secret(cfg.paths.state_dir, f"sip-password-{endpoint_name(agent_id)}")


def tls_files(cfg: Config) -> tuple[Path, Path]:
    """(certificate, key) of the wss:// listener, made now if the centre gave none."""
    w = cfg.webrtc
    if w.tls_cert_file is not None and w.tls_key_file is not None:
        return w.tls_cert_file, w.tls_key_file
    folder = cfg.paths.state_dir / TLS_DIR
    cert, key = folder / CERT_NAME, folder / KEY_NAME
    if cert.exists() and key.exists():
        return cert, key
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp_key = folder / f".{KEY_NAME}.{os.getpid()}"
    tmp_cert = folder / f".{CERT_NAME}.{os.getpid()}"
    tmp_key.unlink(missing_ok=True)
    # The key file exists (empty, 0600) before openssl writes the key into it.
    os.close(os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    host = w.tls_bind
    try:
        san = f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        san = f"DNS:{host}"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "3650", "-subj", "/CN=hotline12345 softphone",
             "-addext", f"subjectAltName={san},IP:127.0.0.1,DNS:localhost",
             "-keyout", str(tmp_key), "-out", str(tmp_cert)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except FileNotFoundError:
        raise WebrtcSetupError("openssl is not installed (apt-get install openssl)") from None
    except subprocess.CalledProcessError as exc:
        raise WebrtcSetupError(f"openssl failed: {exc.stderr.decode(errors='replace')}") from None
    tmp_key.chmod(0o600)
    tmp_key.replace(key)
    tmp_cert.replace(cert)
    return cert, key


def chroot_tls_files(cfg: Config) -> dict[str, str]:
    """The certificate and key as files for Asterisk's configuration directory (the managed
    one's etc, or an external one's install path)."""
    cert, key = tls_files(cfg)
    return {
        CERT_NAME: cert.read_text(encoding="utf-8"),
        KEY_NAME: key.read_text(encoding="utf-8"),
    }


@dataclass(frozen=True)
class SoftphoneSettings:
    """What the web desktop needs to hand a browser its softphone settings."""

    ws_url: str
    password_of: Callable[[str], str]
    """Agent id -> its browser endpoint's SIP password."""

    @property
    def origin(self) -> str:
        """The WebSocket's origin, for the pages' Content-Security-Policy connect-src."""
        parts = urlsplit(self.ws_url)
        return f"{parts.scheme}://{parts.netloc}"


def softphone_settings(cfg: Config) -> SoftphoneSettings | None:
    if not cfg.webrtc.enabled:
        return None
    return SoftphoneSettings(
        cfg.webrtc.browser_url, lambda agent_id: browser_password(cfg, agent_id)
    )
