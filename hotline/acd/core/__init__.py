"""The ACD (automatic call distributor) as a sans-I/O state machine, after h11.

``Acd.handle(event) -> list[Decision]``: events (hotline/acd/events.py) in, decisions out. No
clock, no
sockets, no asyncio: time arrives as the ``at`` of each event. The rules, and the transition
tables that hold them, are in ``hotline.acd.core.rules``; the modules:

- ``policy``: ``AcdPolicy`` / ``SkillRules`` (how the ACD routes) and ``AcdError``;
- ``records``: the agent and call records, call states, and the views served as JSON;
- ``rules``: the rules, ``AGENT_TRANSITIONS`` / ``CALL_TRANSITIONS`` with guard functions;
- ``state``: the state every part shares; ``timers``: thresholds and the timer heap;
  ``queues``: the queue indexes; ``pools`` / ``staff``: agent moves and staffing pools;
  ``estimates``: position and EWT; ``routing``: who gets which call; ``prompts``: what waiting
  callers hear; ``views``; ``snapshot``: snapshot / restore;
- ``machine``: ``Acd``, the call and Tick handlers and ``HANDLERS`` (event type -> handler);
  ``agent_handlers`` and ``callback_handlers``: the other handlers.
"""

from hotline.acd.core.machine import HANDLERS, Acd
from hotline.acd.core.policy import (
    CENTRE_DEFAULTS,
    MAX_LEVEL,
    MIN_LEVEL,
    SKILL_RULES,
    AcdError,
    AcdPolicy,
    SkillRules,
)
from hotline.acd.core.records import (
    BUSY,
    CALLBACKS,
    QUEUED,
    WITH_AGENT,
    WORKING,
    AgentView,
    CallState,
    WaitingCallView,
)
from hotline.acd.core.rules import (
    AGENT_TRANSITIONS,
    CALL_TRANSITIONS,
    CALLED_AGAIN,
    OFFER,
    OTHER_CALL,
    PLACE,
    VOICEMAIL,
    Trigger,
)
from hotline.acd.core.snapshot import CALL_EXTRAS, READABLE_VERSIONS, SNAPSHOT_VERSION

__all__ = [
    "AGENT_TRANSITIONS",
    "BUSY",
    "CALLBACKS",
    "CALLED_AGAIN",
    "CALL_EXTRAS",
    "CALL_TRANSITIONS",
    "CENTRE_DEFAULTS",
    "HANDLERS",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "OFFER",
    "OTHER_CALL",
    "PLACE",
    "QUEUED",
    "READABLE_VERSIONS",
    "SKILL_RULES",
    "SNAPSHOT_VERSION",
    "VOICEMAIL",
    "WITH_AGENT",
    "WORKING",
    "Acd",
    "AcdError",
    "AcdPolicy",
    "AgentView",
    "CallState",
    "SkillRules",
    "Trigger",
    "WaitingCallView",
]
