from pathlib import Path

import pytest

from hotline.base.settings import ConfigError, load_config


def test_empty_configuration_is_a_working_default() -> None:
    cfg = load_config(None, environ={})
    assert cfg.ami.host == "127.0.0.1" and cfg.fastagi.host == "127.0.0.1"
    assert cfg.database_url.startswith("sqlite:///")
    assert {a.id for a in cfg.agents} == {"1001", "1002"}


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.toml"
    path.write_text("[ami]\nport = 5039\n")
    cfg = load_config(path, environ={"HOTLINE_AMI__PORT": "6000", "HOTLINE_ACD__WRAPUP_S": "3"})
    assert cfg.ami.port == 6000 and cfg.acd.wrapup_s == 3


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[ami]\nport = 'abc'\n", "ami.port"),
        ("[ami]\nport = 70000\n", "ami.port"),
        ("[ami]\nprot = 1\n", "ami.prot"),
        ("[acd]\nring_timeout_s = -1\n", "acd.ring_timeout_s"),
        ("[ivr]\nmenu = { '12' = 'x' }\n", "ivr.menu"),
        ("[[agents]]\nid = 'bad id!'\n", "agents.0.id"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_wrong_setting_names_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "h.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert key in str(err.value)


def test_bad_environment_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"ami\.port"):
        load_config(None, environ={"HOTLINE_AMI__PORT": "x"})


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[ami\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, environ={})
