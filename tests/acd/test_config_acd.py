"""Every [acd] setting and per-skill key with a bad value is refused by `hotline config check`,
naming the key, and what the check accepts the engine's ACD policy accepts (one source of
truth: issue 14). Before, `[acd.per_skill.social] initial_max_level = 5` passed the check and
stopped the engine (per_skill was read as floats), and a misspelt per-skill key did the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hotline.acd.core import CENTRE_DEFAULTS, AcdPolicy
from hotline.app.cli import main
from hotline.base.settings import AcdConfig, SkillOverrides, load_config

# A bad value per setting, written as TOML. A new setting without one fails the test below.
BAD: dict[str, list[str]] = {
    "ring_timeout_s": ["0", "-1", '"soon"', "nan"],
    "wrapup_s": ["-1", '"x"'],
    "default_skill": ['""', '"two words"'],
    "tick_s": ["0", "11"],
    "metrics_publish_s": ["0", "-5"],
    "handle_prior_s": ["0", "inf"],
    "initial_max_level": ["0", "11", "5.5"],
    "widen_after_s": ["-1", '"x"', "true"],
    "overflow_after_s": ["-1"],
    "overflow": ["{ general = [1] }", '"general"'],
    "announce_every_s": ["-1"],
    "offer_callback_after_s": ["-0.5"],
    "voicemail_after_s": ["-1"],
    "sticky_wait_s": ["-1"],
    "rejoin_within_s": ["-1"],
    "missed_callback_after_s": ["-3", "true"],
    "missed_callback_priority": ['"high"', "1.5"],
    "callback_max_attempts": ["0", "21"],
    "callback_retry_s": ["-1"],
    "callback_min_idle_agents": ["-1", "1.5", "1001", '"two"'],
    "callback_min_idle_share": ["-0.1", "1", "1.5", '"x"'],
    "keep_first_skill": ['"maybe"', "2"],
    "first_skill_max_wait_s": ["-1", '"x"'],
    "borrow_spare_first": ['"maybe"', "2"],
    "target_first": ['"maybe"', "2"],
    "callback_reserve_live": ['"maybe"', "2"],
    "service_target_s": ["-1", "601", "nan"],
    "per_skill": ["{ social = { bogus = 1 } }", "{ social = 3 }"],
    "callback_dial": ['"PJSIP/1000@citizen-trunk"', '"PJSIP/{number}\\n@x"'],
    "callback_ring_s": ["0", "121"],
    "seats": ['["PJSIP/1001\\r\\nAction: Originate"]', '"PJSIP/1001"', '["Local/1$x"]'],
}
BAD_PER_SKILL: dict[str, list[str]] = {
    "initial_max_level": ["0", "11", "2.5", '"x"'],
    "widen_after_s": ["-1", '"x"'],
    "overflow_after_s": ["-1"],
    "offer_callback_after_s": ["-1"],
    "voicemail_after_s": ["-1"],
    "announce_every_s": ["-1"],
    "sticky_wait_s": ["-1"],
    "missed_callback_after_s": ["-1", "true"],
}


def test_every_setting_has_a_bad_value_here() -> None:
    assert set(BAD) == set(AcdConfig.model_fields)
    assert set(BAD_PER_SKILL) == set(SkillOverrides.model_fields)


def check(tmp_path: Path, toml: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "hotline.toml"
    path.write_text(toml, encoding="utf-8")
    code = main(["--config", str(path), "config", "check"])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in BAD.items() for v in vs])
def test_a_bad_acd_setting_is_refused_naming_it(
    key: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = check(tmp_path, f"[acd]\n{key} = {value}\n", capsys)
    assert code == 2, f"acd.{key} = {value} was accepted: {said}"
    assert f"acd.{key}" in said, said


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in BAD_PER_SKILL.items() for v in vs])
def test_a_bad_per_skill_key_is_refused_naming_it(
    key: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = check(tmp_path, f"[acd.per_skill.social]\n{key} = {value}\n", capsys)
    assert code == 2, f"per_skill.social.{key} = {value} was accepted: {said}"
    assert f"per_skill.social.{key}" in said, said


def test_a_misspelt_per_skill_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = check(tmp_path, "[acd.per_skill.social]\nwiden_afer_s = 10\n", capsys)
    assert code == 2 and "per_skill.social.widen_afer_s" in said


GOOD: list[str] = [
    "[acd.per_skill.social]\ninitial_max_level = 5\n",  # the case that stopped the engine
    "[acd]\nwiden_after_s = 10\noverflow_after_s = 20\noverflow = { social = ['general'] }\n"
    "[acd.per_skill.social]\nwiden_after_s = 5\nvoicemail_after_s = 120\n",
    "[acd]\nmissed_callback_after_s = 5\nmissed_callback_priority = -1\n",
    "[acd]\ncallback_min_idle_agents = 0\ncallback_min_idle_share = 0.5\n"
    "keep_first_skill = false\nfirst_skill_max_wait_s = 30\nservice_target_s = 20\n"
    "borrow_spare_first = false\ntarget_first = false\ncallback_reserve_live = false\n",
    "[acd]\nmissed_callback_after_s = false\nwiden_after_s = false\n"
    "[acd.per_skill.social]\nmissed_callback_after_s = false\n",
]


@pytest.mark.parametrize("toml", GOOD)
def test_what_the_check_accepts_the_engine_builds(
    toml: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, said = check(tmp_path, toml, capsys)
    assert code == 0, said
    cfg = load_config(tmp_path / "hotline.toml", environ={})
    policy: Any = AcdPolicy.from_config(cfg.acd)
    if "widen_after_s = false" in toml:  # TOML has no null: false switches a rule off
        assert policy.missed_callback_after_s is None and policy.widen_after_s is None
        assert policy.rules("social").missed_callback_after_s is None
    if "initial_max_level = 5" in toml:
        assert policy.rules("social").initial_max_level == 5


def test_a_new_centre_gets_the_15_second_rules_on() -> None:
    """Issue 17: widening, missed-call callback (with its idle reserve), announcements and the
    first-skill rule are on by default, with the values of CENTRE_DEFAULTS."""
    policy = AcdPolicy.from_config(AcdConfig())
    assert policy == AcdPolicy(**CENTRE_DEFAULTS)
    assert policy.missed_callback_after_s is not None and policy.widen_after_s is not None
    assert policy.announce_every_s > 0 and policy.keep_first_skill and policy.borrow_spare_first
    assert policy.target_first and policy.callback_reserve_live
    assert policy.has_level_timers and policy.has_prompts
    # Every rule can still be switched off.
    off = AcdConfig(initial_max_level=10, widen_after_s=None, announce_every_s=0,
                    missed_callback_after_s=None, callback_min_idle_agents=0,
                    callback_min_idle_share=0, keep_first_skill=False,
                    borrow_spare_first=False, target_first=False,
                    callback_reserve_live=False)  # fmt: skip
    assert AcdPolicy.from_config(off) == AcdPolicy(keep_first_skill=False)
