"""The `make run` banner (hotline/app/cli.py): the desktop's URL and the first log-in, no secret;
library INFO lines only with --verbose."""

from __future__ import annotations

import logging
from pathlib import Path

from hotline.app.cli import _banner, _setup_logging
from hotline.app.migrate import upgrade
from hotline.base.secrets import api_token
from hotline.base.settings import load_config
from hotline.desk.users import UserStore


def test_banner_names_the_desktop_and_the_first_account_never_the_token(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text(f'[paths]\nstate_dir = "{tmp_path / "state"}"\n', encoding="utf-8")
    cfg = load_config(path)
    token = api_token(cfg.paths.state_dir, cfg.http.api_token)
    text = _banner(cfg)
    assert f"http://{cfg.http.host}:{cfg.http.port}/desk/" in text
    assert "no desktop account yet" in text and "user add agent" in text
    assert token not in text and "api-token" in text
    assert "softphone config 1001" in text and "browser softphone" in text  # a phone's recipe
    upgrade(cfg.database_url)
    store = UserStore(cfg.database_url)
    store.add("ann", "supervisor", "ann-password-1")
    store.dispose()
    assert "1 desktop account(s)" in _banner(cfg)


def test_library_info_lines_only_with_verbose() -> None:
    _setup_logging(False)
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.WARNING
    _setup_logging(True)
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.DEBUG
    _setup_logging(False)
