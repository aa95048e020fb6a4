"""The lease machine (hotline.app.lease) and the AMI gate built on it: pure, on a made-up clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.app.lease import (
    Acquire,
    Granted,
    Held,
    Lead,
    Lease,
    LeaseTiming,
    Renew,
    Renewed,
    Resign,
    Role,
    StepDown,
    Tick,
    Unanswered,
)
from hotline.asterisk.ami.client import DECISION_TOKEN, AmiClient, NotLeading
from hotline.base.settings import ClusterConfig

T = LeaseTiming(lease_s=2.0, renew_s=0.4, safety_s=0.3, poll_s=0.2)


def leader(token: int = 7, sent_at: float = 10.0) -> Lease:
    lease = Lease(T)
    assert lease.handle(Tick(sent_at)) == [Acquire()]
    assert lease.handle(Granted(token, sent_at, sent_at + 0.01)) == [Lead(token)]
    return lease


def test_a_standby_asks_every_poll_interval_one_request_at_a_time() -> None:
    lease = Lease(T)
    assert lease.handle(Tick(0.0)) == [Acquire()]
    assert lease.handle(Tick(0.5)) == []  # the first request has not come back
    assert lease.handle(Held("other", 0.55)) == []
    assert lease.holder == "other"
    assert lease.handle(Tick(0.6)) == [Acquire()]
    assert lease.handle(Held("other", 0.65)) == []
    assert lease.handle(Tick(0.7)) == []  # 0.1 s after asking: not yet
    assert lease.handle(Tick(0.8)) == [Acquire()]
    assert lease.may_act(0.8) is None


def test_validity_is_counted_from_the_moment_the_request_was_sent_minus_the_margin() -> None:
    lease = leader(sent_at=10.0)
    assert lease.role is Role.LEADER
    assert lease.may_act(11.69) == 7
    # Redis expires it at 12.0 at the earliest; the engine stops 0.3 s before.
    assert lease.may_act(11.7) is None


def test_renewals_extend_from_their_own_send_time() -> None:
    lease = leader(sent_at=10.0)
    assert lease.handle(Tick(10.39)) == []
    assert lease.handle(Tick(10.4)) == [Renew(7)]
    assert lease.handle(Renewed(sent_at=10.4, now=10.45)) == []
    assert lease.may_act(12.09) == 7 and lease.may_act(12.1) is None


def test_a_renewal_that_hangs_fences_on_the_clock_alone() -> None:
    lease = leader(sent_at=10.0)
    assert lease.handle(Tick(10.4)) == [Renew(7)]  # never answered (Redis cut off)
    assert lease.handle(Tick(11.0)) == []
    assert lease.may_act(11.69) == 7
    out = lease.handle(Tick(11.7))
    assert out == [StepDown(7, "the lease ran out before a renewal was confirmed", False)]
    assert lease.role is Role.FENCED and lease.may_act(11.7) is None


def test_a_late_answer_cannot_bring_a_fenced_engine_back() -> None:
    lease = leader(sent_at=10.0)
    lease.handle(Tick(10.4))
    lease.handle(Tick(11.8))
    assert lease.role is Role.FENCED
    assert lease.handle(Renewed(sent_at=10.4, now=11.9)) == []
    assert lease.handle(Granted(9, 11.9, 11.95)) == []
    assert lease.handle(Tick(20.0)) == []
    assert lease.may_act(11.9) is None


def test_errors_do_not_fence_while_the_lease_is_valid() -> None:
    lease = leader(sent_at=10.0)
    assert lease.handle(Tick(10.4)) == [Renew(7)]
    assert lease.handle(Unanswered("ConnectionError", 10.5)) == []
    assert lease.handle(Tick(10.8)) == [Renew(7)]
    assert lease.may_act(10.8) == 7


def test_a_lease_found_in_other_hands_fences_at_once() -> None:
    lease = leader()
    lease.handle(Tick(10.4))
    assert lease.handle(Held("b", 10.41)) == [StepDown(7, "the lease is held by b", False)]
    assert lease.may_act(10.41) is None


def test_resigning_releases_the_lease_a_standby_resigns_silently() -> None:
    lease = leader()
    assert lease.handle(Resign(10.1)) == [StepDown(7, "shutting down", True)]
    standby = Lease(T)
    assert standby.handle(Resign(0.0)) == []
    assert standby.role is Role.FENCED


@given(
    st.lists(
        st.tuples(st.sampled_from(["tick", "renewed", "unanswered", "held"]), st.floats(0, 0.5)),
        max_size=60,
    )
)
def test_the_engine_never_acts_past_its_last_confirmed_send_plus_lease_minus_margin(
    steps: list[tuple[str, float]],
) -> None:
    """Whatever Redis answers and whenever, acting stops by the last confirmed grant's
    send time + lease - margin: the earliest moment Redis could give the lease away,
    less the margin."""
    now = 10.0
    lease = leader(sent_at=now)
    confirmed = now  # send time of the last grant or renewal Redis confirmed
    asked: float | None = None
    for kind, dt in steps:
        now += dt
        if kind == "tick":
            out = lease.handle(Tick(now))
            if any(isinstance(d, Renew) for d in out):
                asked = now
        elif asked is not None:
            if kind == "renewed":
                lease.handle(Renewed(asked, now))
                confirmed = max(confirmed, asked)
            elif kind == "unanswered":
                lease.handle(Unanswered("x", now))
            else:
                lease.handle(Held("b", now))
            asked = None
        if lease.may_act(now) is not None:
            assert now < confirmed + T.lease_s - T.safety_s


def test_timing_is_checked() -> None:
    with pytest.raises(ValueError, match="renew"):
        LeaseTiming(lease_s=2.0, renew_s=1.0, safety_s=0.3, poll_s=0.2)
    with pytest.raises(ValueError, match="safety"):
        LeaseTiming(lease_s=2.0, renew_s=0.4, safety_s=2.0, poll_s=0.2)
    with pytest.raises(ValueError, match="renew_ms"):
        ClusterConfig(lease_ms=2000, renew_ms=900)
    with pytest.raises(ValueError, match="safety_ms"):
        ClusterConfig(lease_ms=2000, safety_ms=1000)
    assert ClusterConfig().lease_ms == 2000


class _Ok(dict[str, str]):
    success = True


class _Manager:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_action(self, action: dict[str, Any]) -> asyncio.Future[Any]:
        self.sent.append(action)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(_Ok())
        return future


def _client(token: list[int | None]) -> tuple[AmiClient, _Manager]:
    ami = AmiClient("127.0.0.1", 1, "u", "s")
    manager = _Manager()
    ami._manager = manager  # type: ignore[assignment]
    ami.connected.set()
    ami.gate = lambda: token[0]
    return ami, manager


async def test_the_ami_gate_refuses_when_not_leading_and_stale_decisions() -> None:
    token: list[int | None] = [None]
    ami, manager = _client(token)
    with pytest.raises(NotLeading, match="not leading"):
        await ami.send({"Action": "Originate", "Channel": "Local/1@x"})
    assert manager.sent == [] and ami.refused_not_leading == 1
    token[0] = 8
    DECISION_TOKEN.set(7)  # decided under the previous leader's token
    with pytest.raises(NotLeading, match="stale token 7"):
        await ami.send({"Action": "Hangup", "Channel": "Local/1@x"})
    assert manager.sent == []
    DECISION_TOKEN.set(8)
    await ami.send({"Action": "Hangup", "Channel": "Local/1@x"})
    assert [a["Action"] for a in manager.sent] == ["Hangup"]


def test_hotline_status_names_the_role_token_and_lease_age() -> None:
    from hotline.app.statusview import format_status

    text = format_status(
        {
            "cluster": {
                "role": "standby",
                "engine_id": "b",
                "token": None,
                "lease_age_s": None,
                "holder": "a",
                "leader_url": "http://10.0.0.11:8345",
            }
        },
        now=0.0,
    )
    assert (
        "engine b: STANDBY · token - · lease renewed - ago · leader a http://10.0.0.11:8345"
    ) in text
    lead = format_status(
        {"cluster": {"role": "leader", "engine_id": "a", "token": 7, "lease_age_s": 0.25}},
        now=0.0,
    )
    assert "engine a: LEADER · token 7 · lease renewed 0.2 s ago" in lead
    assert "engine" not in format_status({"cluster": {"role": "single"}}, now=0.0)


class _Store:
    """A snapshot store whose saves take `delay` s, or fail."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.saved: list[dict[str, Any]] = []

    async def save(self, snapshot: dict[str, Any]) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("Redis away")
        self.saved.append(snapshot)


def _service(store: _Store) -> Any:
    from hotline.acd.core import Acd
    from hotline.acd.service import AcdService
    from hotline.calls.tracker import CallTracker

    return AcdService(Acd(), None, store, None, CallTracker(), write_ahead=True)  # type: ignore[arg-type]


async def test_write_ahead_waits_for_a_save_that_holds_the_newest_state() -> None:
    store = _Store(delay=0.05)
    service = _service(store)
    first = asyncio.ensure_future(service.save())  # a save of an older state is running
    await asyncio.sleep(0.01)
    from hotline.acd.service import AgentLeg

    service.legs["hl-1"] = AgentLeg("hl-1", "call-1", "1001")
    assert await service.persist() is True
    assert "hl-1" in store.saved[-1]["legs"]  # in Redis by the time the agent may be rung
    await first
    # The save that included the leg came after the one already running.
    assert len(store.saved) == 2


async def test_write_ahead_reports_a_save_that_did_not_happen() -> None:
    service = _service(_Store(fail=True))
    assert await service.persist() is False
    slow = _service(_Store(delay=5.0))
    from hotline.acd import service as module

    module_timeout = module.SAVE_TIMEOUT_S
    module.SAVE_TIMEOUT_S = 0.05  # a cut link: the save hangs, the bound ends it
    try:
        assert await slow.persist() is False
    finally:
        module.SAVE_TIMEOUT_S = module_timeout


class _Ami:
    gate = None

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, action: dict[str, Any], timeout_s: float | None = None) -> Any:
        self.sent.append(str(action["Action"]))
        if action["Action"] == "Hangup":
            from hotline.asterisk.ami.client import AmiActionError

            raise AmiActionError("Hangup: No such channel")
        return _Ok(Response="Success")


class _Notifier:
    def call_offered(self, offer: Any) -> None:
        pass

    def decision(self, d: Any) -> None:
        pass


async def test_an_offer_withdrawn_while_its_leg_is_saved_never_rings_the_agent() -> None:
    from hotline.acd.core import Acd
    from hotline.acd.events import CancelOffer, OfferCall
    from hotline.acd.service import AcdService
    from hotline.calls.tracker import CallTracker

    ami = _Ami()
    service = AcdService(
        Acd(),
        ami,  # type: ignore[arg-type]
        _Store(delay=0.05),  # type: ignore[arg-type]
        _Notifier(),  # type: ignore[arg-type]
        CallTracker(),
        write_ahead=True,
    )
    offer = OfferCall(
        call_id="c1", agent_id="1001", seat="PJSIP/1001", channel="PJSIP/x", caller="1",
        ring_timeout_s=8,
    )  # fmt: skip
    ringing = asyncio.ensure_future(service._ring_agent(offer))
    await asyncio.sleep(0.01)  # the leg is being saved
    await service._cancel(CancelOffer(call_id="c1", agent_id="1001"))  # the caller hung up
    await ringing
    # Not rung: the caller was not sent to dial the agent (no Setvar/Redirect), and there was
    # no agent channel yet to hang up.
    assert ami.sent == [], ami.sent
    assert service.legs == {}
