"""How the ACD routes (``AcdPolicy``, per skill ``SkillRules``) and its one error, ``AcdError``.

Every field added after ``ring_timeout_s`` and ``wrapup_s`` has a default that keeps the first
version's behaviour, except ``keep_first_skill`` (issue 17: the routing rule itself was fixed;
``keep_first_skill=False`` gives the old one); a bad value is refused when the policy is
built, never at routing time. ``CENTRE_DEFAULTS`` is what a new centre's ``[acd]`` gets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

MIN_LEVEL, MAX_LEVEL = 1, 10


class AcdError(ValueError):
    """An event that does not fit the current state; the ACD is unchanged."""


# What a new centre gets (the ``[acd]`` defaults of hotline/config.py): the 15-second rules on.
# ``AcdPolicy()`` itself keeps every rule off, so the core's own defaults never change under a
# test. Why these values: README "Missed-call callback and the 15-second defaults".
CENTRE_DEFAULTS: dict[str, Any] = {
    "initial_max_level": 3,  # a new call goes to level 1-3 agents of its skill ...
    "widen_after_s": 10.0,  # ... then, 10 s in (or estimated), to every level
    "announce_every_s": 60.0,  # position and estimated wait at entry, then every minute
    "missed_callback_after_s": 0.0,  # every caller who hung up in the queue is called back ...
    "callback_min_idle_agents": 3,  # ... when 3 agents of the skill stay ready after it
    "callback_min_idle_share": 0.5,  # ... and half of its working agents (the trough)
    "callback_reserve_live": True,  # ... at most as many as the centre's live calls now
    "borrow_spare_first": True,  # a lent agent comes from the skill with the most to spare
    "target_first": True,  # a call that can still make the target before one already past it
}

# --- policy -----------------------------------------------------------------------------------


def _check_seconds(name: str, value: Any, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds{' or None' if optional else ''}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, not {value}")


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, not {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be in {low}..{high or ''}, not {value}")


@dataclass(frozen=True)
class SkillRules:
    """The thresholds of one skill: ``AcdPolicy``'s values, overridden by ``per_skill``."""

    initial_max_level: int = MAX_LEVEL
    widen_after_s: float | None = None
    overflow_after_s: float | None = None
    offer_callback_after_s: float | None = None
    voicemail_after_s: float | None = None
    announce_every_s: float = 0.0
    sticky_wait_s: float = 0.0
    missed_callback_after_s: float | None = None

    def __post_init__(self) -> None:
        _check_int("initial_max_level", self.initial_max_level, MIN_LEVEL, MAX_LEVEL)
        for name in ("widen_after_s", "overflow_after_s", "offer_callback_after_s",
                     "voicemail_after_s", "missed_callback_after_s"):  # fmt: skip
            _check_seconds(name, getattr(self, name), optional=True)
        _check_seconds("announce_every_s", self.announce_every_s, optional=False)
        _check_seconds("sticky_wait_s", self.sticky_wait_s, optional=False)


SKILL_RULES = tuple(f.name for f in fields(SkillRules))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


@dataclass(frozen=True)
class AcdPolicy:
    """How the ACD routes. Every field added after ``ring_timeout_s`` and ``wrapup_s`` has a
    default that keeps the first version's behaviour (no thresholds, no callbacks, no rejoin).
    """

    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0
    # EWT: the handle-time mean starts at the prior and becomes an EWMA over handle_window calls.
    handle_prior_s: float = 180.0
    handle_window: int = 200
    thresholds_use_ewt: bool = True  # also cross a threshold when waited + EWT reaches it
    # Thresholds, for every skill unless per_skill overrides them (None: off).
    initial_max_level: int = MAX_LEVEL
    widen_after_s: float | None = None
    overflow_after_s: float | None = None
    overflow: Mapping[str, Sequence[str]] = field(default_factory=dict)  # skill -> skills, in order
    offer_callback_after_s: float | None = None
    voicemail_after_s: float | None = None
    announce_every_s: float = 0.0  # 0: no announcements
    sticky_wait_s: float = 0.0
    missed_callback_after_s: float | None = None
    # An agent takes a call of its best-level skill before an older one of a lesser skill
    # (until that one has waited first_skill_max_wait_s), and, between skills at one level,
    # a call that can still be answered within service_target_s before one already past it.
    keep_first_skill: bool = True
    first_skill_max_wait_s: float | None = 60.0
    service_target_s: float = 15.0
    # A call that no agent of its own first skill takes goes to the lent agent whose first
    # skill keeps the most ready agents (before the level decides); off: the level decides.
    borrow_spare_first: bool = False
    # With keep_first_skill: a call already past service_target_s is left, whatever the
    # levels, for a later one of another skill the agent has that can still make it.
    target_first: bool = False
    # Callbacks (accepted and missed-call).
    missed_callback_priority: int | None = None  # None: after every live call
    callback_max_attempts: int = 3
    callback_retry_s: float = 60.0  # at least this long between two attempts of one call
    # A callback is placed only if this many ready agents with the call's skill stay ready
    # after it, so a callback never takes the agent the next live caller needs (0: off).
    callback_min_idle_agents: int = 0
    # ... and at least this share of the skill's working agents (0: off): a big skill keeps a
    # reserve in proportion, as its arrivals come in proportion too.
    callback_min_idle_share: float = 0.0
    # ... but never more ready agents than the whole centre has live calls ringing or answered
    # (a cap by the skill's own live calls cost service level on the tuning days): a reserve
    # larger than the live load it protects only holds callbacks back (after the day).
    callback_reserve_live: bool = False
    # Rejoin: a caller who hung up and calls again within this time gets their old place.
    rejoin_within_s: float | None = None
    rejoin_memory: int = 1000  # abandons remembered at most
    per_skill: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    _base: SkillRules = field(init=False, repr=False, compare=False, default=SkillRules())
    _by_skill: Mapping[str, SkillRules] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.ring_timeout_s > 0:
            raise ValueError(f"ring_timeout_s must be > 0, not {self.ring_timeout_s}")
        if not self.wrapup_s >= 0:
            raise ValueError(f"wrapup_s must be >= 0, not {self.wrapup_s}")
        _check_seconds("handle_prior_s", self.handle_prior_s, optional=False)
        if not self.handle_prior_s > 0:
            raise ValueError(f"handle_prior_s must be > 0, not {self.handle_prior_s}")
        _check_int("handle_window", self.handle_window, 1)
        _check_int("callback_max_attempts", self.callback_max_attempts, 1)
        _check_seconds("callback_retry_s", self.callback_retry_s, optional=False)
        _check_int("callback_min_idle_agents", self.callback_min_idle_agents, 0, 1000)
        share = self.callback_min_idle_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
            raise ValueError(f"callback_min_idle_share must be in [0, 1), not {share!r}")
        _check_seconds("first_skill_max_wait_s", self.first_skill_max_wait_s, optional=True)
        _check_seconds("service_target_s", self.service_target_s, optional=False)
        flags = ("keep_first_skill", "borrow_spare_first", "target_first", "callback_reserve_live")
        for flag in flags:
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, not {getattr(self, flag)!r}")
        _check_seconds("rejoin_within_s", self.rejoin_within_s, optional=True)
        _check_int("rejoin_memory", self.rejoin_memory, 1)
        if self.missed_callback_priority is not None:
            _check_int("missed_callback_priority", self.missed_callback_priority, -(2**31))
        overflow: dict[str, tuple[str, ...]] = {}
        for skill, others in self.overflow.items():
            groups = (others,) if isinstance(others, str) else tuple(others)
            if not all(isinstance(s, str) and s for s in (skill, *groups)):
                raise ValueError(f"overflow {skill!r}: {others!r} is not a list of skill names")
            overflow[skill] = groups
        object.__setattr__(self, "overflow", overflow)
        base = SkillRules(**{name: getattr(self, name) for name in SKILL_RULES})
        by_skill: dict[str, SkillRules] = {}
        per_skill: dict[str, dict[str, Any]] = {}
        for skill, override in self.per_skill.items():
            unknown = set(override) - set(SKILL_RULES)
            if not isinstance(skill, str) or unknown:
                raise ValueError(f"per_skill {skill!r}: unknown fields {sorted(unknown)}")
            per_skill[skill] = dict(override)
            by_skill[skill] = replace(base, **override)
        object.__setattr__(self, "per_skill", per_skill)
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_by_skill", by_skill)

    def __hash__(self) -> int:
        return hash(tuple(_freeze(getattr(self, f.name)) for f in fields(self) if f.compare))

    def rules(self, skill: str) -> SkillRules:
        """The thresholds that apply to calls of ``skill``."""
        return self._by_skill.get(skill, self._base)

    def _all_rules(self) -> list[SkillRules]:
        return [self._base, *self._by_skill.values()]

    @property
    def has_route_timers(self) -> bool:
        """Some rule changes which agents may take a call as time passes."""
        return any(
            r.widen_after_s is not None or r.overflow_after_s is not None or r.sticky_wait_s > 0
            for r in self._all_rules()
        )

    @property
    def has_level_timers(self) -> bool:
        """Some skill widens or overflows."""
        return any(
            r.widen_after_s is not None or r.overflow_after_s is not None for r in self._all_rules()
        )

    @property
    def has_prompts(self) -> bool:
        """Some rule speaks to waiting callers (announcements, callback offer, voicemail)."""
        return any(
            r.announce_every_s > 0
            or r.offer_callback_after_s is not None
            or r.voicemail_after_s is not None
            for r in self._all_rules()
        )

    @property
    def has_sticky(self) -> bool:
        return any(r.sticky_wait_s > 0 for r in self._all_rules())

    @classmethod
    def from_config(cls, acd_cfg: Any) -> AcdPolicy:
        """The policy from the ``[acd]`` config section: every field the section has."""
        kwargs = {f.name: getattr(acd_cfg, f.name) for f in fields(cls)
                  if f.init and hasattr(acd_cfg, f.name)}  # fmt: skip
        for name in ("ring_timeout_s", "wrapup_s"):
            if name in kwargs:
                kwargs[name] = float(kwargs[name])
        return cls(**kwargs)
