"""The desktop's parts in one place (``Desk``, what its handlers need) and the agents' reasons.

The guards themselves (sessions, roles, CSRF, headers) are the web base's
(``hotline.base.web.guard``): every feature's pages use them without loading the desktop.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hotline.acd.agents import AgentService
from hotline.asterisk.webrtc import SoftphoneSettings
from hotline.base.settings import WebConfig
from hotline.callcontrol.handled import HandledCalls
from hotline.callcontrol.service import CallControl
from hotline.callcontrol.steps import StepStore
from hotline.callcontrol.threeway import ThreeWayService
from hotline.desk.access import UserGate
from hotline.desk.live import LiveHub
from hotline.desk.login_limits import LoginGuard, PasswordChecks
from hotline.desk.session_store import DeskSessions
from hotline.desk.users import UserStore
from hotline.followup.store import FollowupStore
from hotline.kb.service import KbStore
from hotline.tickets.service import TicketService
from hotline.wallboard.chart import ChartSource

REASONS = ("break", "meeting", "training", "admin")  # why an agent is not ready


@dataclass
class Desk:
    """What the handlers need, shared by the sub-application."""

    cfg: WebConfig
    sessions: DeskSessions
    users: UserStore
    agents: AgentService
    tickets: TicketService
    hub: LiveHub
    threeway: ThreeWayService
    control: CallControl
    steps: StepStore
    chart: ChartSource
    kb: KbStore
    guard: LoginGuard  # log-in delays per address and name
    checks: PasswordChecks  # password checks in their own bounded executor
    gate: UserGate  # sessions end when their user is disabled or its password reset
    handled: HandledCalls  # the calls each agent handled (the only ones it may link)
    softphone: SoftphoneSettings | None = None  # webrtc: the agent page's softphone
    followups: FollowupStore | None = None  # 110 handoffs: the 双非 flag on the ticket page


DESK_KEY = web.AppKey("desk", Desk)
