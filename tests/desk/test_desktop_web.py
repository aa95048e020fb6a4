"""The web desktop's pure parts: passwords, tokens, sessions, words, the screen-pop's prefill,
the wallboard's figures, the ticket form's checks, and template escaping."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from hotline.acd.core import AgentView, WaitingCallView
from hotline.acd.events import AgentState
from hotline.app.migrate import upgrade
from hotline.base.i18n import MESSAGES, catalogue, pick_lang, translate
from hotline.base.web.security import (
    DUMMY_HASH,
    PasswordRejected,
    hash_password,
    needs_rehash,
    new_token,
    tokens_match,
    verify_password,
)
from hotline.base.web.sessions import SessionStore
from hotline.callcontrol.http import draft_from
from hotline.desk.plugin import HERE
from hotline.desk.screenpop import prefill
from hotline.desk.users import UserError, UserStore, check_user
from hotline.tickets.values import DEFAULT_SUBJECTS, FieldError
from hotline.wallboard.rules import mask_number, sl_level, wait_level, wallboard

# -- passwords and tokens ----------------------------------------------------------------------


def test_password_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = hash_password("correct horse 1"), hash_password("correct horse 1")
    assert first.startswith("$argon2id$") and first != second  # salted
    assert verify_password(first, "correct horse 1")
    assert not verify_password(first, "correct horse 2")
    assert not verify_password("not a hash", "correct horse 1")
    assert not verify_password(first, "x" * 5000)
    assert not needs_rehash(first) and needs_rehash("garbage")
    assert not verify_password(DUMMY_HASH, "")


@pytest.mark.parametrize("bad", ["short", " leading space pw", "x" * 1025])
def test_weak_or_odd_passwords_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(PasswordRejected, match="password"):
        hash_password(bad)


def test_tokens_are_random_and_compared_whole() -> None:
    token = new_token()
    assert len(token) >= 43 and token != new_token()
    assert tokens_match(token, token)
    assert not tokens_match(token, token[:-1])
    assert not tokens_match(token, None)
    assert not tokens_match("", "")  # no session, no token: never a match


# -- sessions ----------------------------------------------------------------------------------


def test_sessions_expire_when_idle_or_too_old_and_close_at_logout() -> None:
    now = [1000.0]
    store = SessionStore(lambda: now[0], idle_s=60, max_s=300)
    s = store.open("ann", "agent", "1001", None)
    assert store.get(s.sid) is not None and s.csrf != s.sid
    now[0] += 59
    assert store.get(s.sid) is not None  # the idle clock restarts on use
    now[0] += 59
    assert store.get(s.sid) is not None
    now[0] += 61
    assert store.get(s.sid) is None  # idle too long
    s2 = store.open("ann", "agent", "1001", None)
    for _ in range(6):
        now[0] += 55
        store.get(s2.sid)
    assert store.get(s2.sid) is None  # older than max_s however busy
    s3 = store.open("bob", "supervisor", None, None)
    store.close(s3.sid)
    assert store.get(s3.sid) is None and store.get(None) is None and store.get("forged") is None


def test_language_defaults_to_chinese_and_every_phrase_exists_in_english() -> None:
    assert pick_lang(None) == "zh" and pick_lang("fr") == "zh" and pick_lang("en") == "en"
    assert set(MESSAGES["zh"]) == set(MESSAGES["en"])
    assert translate("en", "login") == "Log in" and translate("zh", "login") == "登录"
    assert translate("en", "no-such-key") == "no-such-key"
    assert catalogue("en")["ready"] == "Ready"


# -- users -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role", "agent", "unit", "field"),
    [
        ("a b", "agent", "1001", None, "name"),
        ("ann", "boss", None, None, "role"),
        ("ann", "agent", None, None, "agent"),
        ("ann", "admin", "1001", None, "agent"),
        ("ann", "unit", None, None, "unit"),
        ("ann", "agent", "1001", "water", "unit"),
        ("ann", "agent", "<x>", None, "agent"),
    ],
)
def test_user_data_is_checked_field_by_field(
    name: str, role: str, agent: str | None, unit: str | None, field: str
) -> None:
    with pytest.raises(UserError, match=f"^{field}:"):
        check_user(name, role, agent, unit)


def test_user_store_authenticates_by_hash_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    store = UserStore(url)
    store.add("ann", "agent", "ann-password-1", agent_id="1001")
    with pytest.raises(UserError, match="exists already"):
        store.add("ann", "supervisor", "other-password")
    user = store.authenticate("ann", "ann-password-1")
    assert user is not None and user.agent_id == "1001" and user.role == "agent"
    assert store.authenticate("ann", "wrong-password") is None
    assert store.authenticate("nobody", "ann-password-1") is None
    assert store.authenticate("<script>", "x") is None
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
    assert "ann-password-1" not in stored and stored.startswith("$argon2id$")
    store.dispose()


def test_user_edit_changes_what_is_given_checks_the_result_and_changes_the_stamp(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    store = UserStore(url)
    boss = store.add("boss", "supervisor", "boss-password-1")
    phoned = store.edit("boss", agent_id="1002")
    assert phoned.agent_id == "1002" and phoned.role == "supervisor"
    assert phoned.stamp != boss.stamp  # sessions opened without the phone end
    with pytest.raises(UserError, match=r"^agent:"):
        store.edit("boss", role="unit", unit="water")  # a unit user has no seat: clear it
    unit = store.edit("boss", role="unit", unit="water", agent_id="")
    assert (unit.role, unit.unit, unit.agent_id) == ("unit", "water", None)
    off = store.edit("boss", active=False, password="boss-password-2")
    assert not off.active and store.authenticate("boss", "boss-password-2") is None
    with pytest.raises(UserError, match=r"^name:"):
        store.edit("nobody", role="agent")
    store.dispose()


# -- screen-pop and ticket form ----------------------------------------------------------------


def test_prefill_uses_the_speech_classification_when_valid() -> None:
    p = prefill(
        "greeting>speech:02.01/complaint", "utilities", "停水三天了", "138", DEFAULT_SUBJECTS
    )
    assert (p.category, p.subject_code, p.description) == ("complaint", "02.01", "停水三天了")
    p = prefill("greeting>speech:zzz/emergency", "general", "", "138", DEFAULT_SUBJECTS)
    assert (p.category, p.subject_code) == ("consultation", "99")  # invalid: the defaults
    p = prefill("greeting>menu:2", "request", "", "13800000000", DEFAULT_SUBJECTS)
    assert (p.category, p.caller_number) == ("help", "13800000000")


def test_ticket_form_refuses_unknown_fields_and_bad_call_ids() -> None:
    base = {"category": "help", "subject_code": "99", "description": "路灯坏了"}
    draft, call_id = draft_from({**base, "call_id": "1700000000.5"})
    assert draft.calls == ("1700000000.5",) and call_id == "1700000000.5"
    with pytest.raises(FieldError) as unknown:
        draft_from({**base, "actor": "someone-else"})
    assert unknown.value.field == "actor"
    with pytest.raises(FieldError) as bad:
        draft_from({**base, "call_id": "../../etc"})
    assert bad.value.field == "call_id"


# -- wallboard ---------------------------------------------------------------------------------


def test_wallboard_flags_waits_over_15_seconds_per_skill() -> None:
    status = {
        "waiting": [
            WaitingCallView("c1", "consult", 0, "138", "PJSIP/x", 100.0, "waiting", None),  # type: ignore[arg-type]
            WaitingCallView("c2", "request", 0, "139", "PJSIP/y", 110.0, "offered", "1001"),  # type: ignore[arg-type]
            WaitingCallView("c3", "consult", 0, "137", "PJSIP/z", 90.0, "callback", None),  # type: ignore[arg-type]
        ],
        "agents": [
            AgentView("1001", "S", (("request", 1),), AgentState.RINGING, "", 110.0, "c2"),
            AgentView("1002", "S", (("consult", 1),), AgentState.NOT_READY, "break", 50.0, None),
        ],
        "metrics": {
            "today": [{"skill": "*", "service_level": 0.9, "offered": 10, "answered": 9,
                       "abandoned": 1}],
            "interval": [{"skill": "consult", "service_level": 1.0}],
        },
    }  # fmt: skip
    board = wallboard(status, now=120.0)
    rows = {r["skill"]: r for r in board["skills"]}
    assert list(rows) == ["*", "consult", "request"]
    assert rows["*"]["waiting"] == 2 and rows["*"]["longest_wait_s"] == 20.0
    assert rows["*"]["over_target"] and rows["consult"]["over_target"]
    assert not rows["request"]["over_target"] and rows["request"]["longest_wait_s"] == 10.0
    assert rows["*"]["sl_today"] == 0.9 and rows["consult"]["sl_interval"] == 1.0
    assert rows["*"]["agents"] == {"ringing": 1, "not_ready": 1}
    assert rows["consult"]["agents"] == {"not_ready": 1}
    assert [w["call_id"] for w in board["waiting"]] == ["c1", "c2"]  # callbacks are not waiting
    assert board["agents"][1]["reason"] == "break" and board["agents"][1]["for_s"] == 70
    assert board["calendar_warning"] is None
    warned = wallboard({**status, "calendar_warning": "2027年节假日安排尚未导入"}, now=120.0)
    assert warned["calendar_warning"] == "2027年节假日安排尚未导入"


# -- templates ---------------------------------------------------------------------------------


def test_templates_escape_everything_they_show() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    html = env.get_template("login.html.j2").render(
        t=lambda k: k, lang="zh", other_lang="en", session=None, csrf="",
        catalogue={"k": "</script><b>"}, prefix="/desk", login_csrf="tok", error=True,
        name="\"><script>alert(1)</script>",
    )  # fmt: skip
    assert "<script>alert(1)" not in html and "&#34;&gt;&lt;script&gt;" in html
    assert "</script><b>" not in html  # the catalogue's JSON cannot close its script element


# -- three-way calls ---------------------------------------------------------------------------


def test_three_way_steps_follow_the_table() -> None:
    from hotline.callcontrol.threeway import Stage, ThreeWayError, next_stage

    assert next_stage(None, "start") is Stage.DIALLING
    assert next_stage(Stage.DIALLING, "answered") is Stage.CONFERENCED
    assert next_stage(Stage.DIALLING, "no_answer") is Stage.FAILED
    assert next_stage(Stage.FAILED, "start") is Stage.DIALLING
    assert next_stage(Stage.CONFERENCED, "leave") is Stage.AGENT_LEFT
    assert next_stage(Stage.CONFERENCED, "drop") is Stage.DEPARTMENT_DROPPED
    assert next_stage(Stage.DEPARTMENT_DROPPED, "start") is Stage.DIALLING
    for stage, step in [
        (None, "leave"),
        (Stage.DIALLING, "leave"),  # the department has not answered yet
        (Stage.DIALLING, "start"),
        (Stage.AGENT_LEFT, "start"),  # the agent is gone
        (Stage.AGENT_LEFT, "drop"),
    ]:
        with pytest.raises(ThreeWayError, match=f"cannot {step}"):
            next_stage(stage, step)


# -- the live hub ------------------------------------------------------------------------------


class _FakeAcd:
    """The parts of AcdService the hub reads: the core's agents and the call tracker."""

    def __init__(self, calls: dict[str, Any]) -> None:
        self.tracker = SimpleNamespace(calls=calls)
        self.acd = SimpleNamespace(agents=lambda: [], agent=lambda _agent_id: None)


class _FakeTickets:
    settings = SimpleNamespace(subjects=SimpleNamespace(names=DEFAULT_SUBJECTS))

    def __init__(self) -> None:
        self.asked: list[str] = []

    def repeat_check(self, caller: str, viewer: Any) -> Any:
        self.asked.append(caller)
        return SimpleNamespace(repeat=False, tickets=())


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = False

    async def send_str(self, data: str) -> None:
        self.sent.append(data)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> None:
        self.closed = True
        self.code = code


async def test_the_pop_goes_to_the_offered_agent_only_with_the_ivr_findings() -> None:
    from hotline.acd.events import OfferCall
    from hotline.calls.tracker import CallInProgress
    from hotline.desk.live import LiveHub, Subscriber

    call = CallInProgress(
        "c1", "c1", "13800000000", "12345", "PJSIP/t-1", 1.0, ivr_path="direct>speech:02.01/help",
        skill="utilities", speech_text="我家停水了",
    )  # fmt: skip
    tickets = _FakeTickets()
    hub = LiveHub(_FakeAcd({"c1": call}), tickets, None, lambda: {})  # type: ignore[arg-type]
    store = SessionStore(lambda: 0.0)
    mine = Subscriber(store.open("ann", "agent", "1001", None), _Socket())
    other = Subscriber(store.open("bob", "agent", "1002", None), _Socket())
    for sub in (mine, other):
        hub.add(sub)
        sub.outbox.get_nowait()  # the agent's state on connecting
    hub.observe(
        OfferCall(call_id="c1", agent_id="1001", seat="S", channel="PJSIP/t-1",
                  caller="13800000000", ring_timeout_s=15)
    )  # fmt: skip
    pop = json.loads(await asyncio.wait_for(mine.outbox.get(), 5))  # built while it rings
    await hub.stop()
    assert pop["type"] == "pop" and pop["caller"] == "13800000000"
    assert pop["speech_text"] == "我家停水了" and pop["ivr_path"] == "direct>speech:02.01/help"
    assert pop["form"]["subject_code"] == "02.01" and pop["form"]["category"] == "help"
    assert other.outbox.empty() and tickets.asked == ["13800000000"]


def test_a_socket_that_falls_behind_is_closed_not_waited_for() -> None:
    from hotline.desk.live import OUTBOX, LiveHub, Subscriber

    async def run() -> None:
        hub = LiveHub(_FakeAcd({}), _FakeTickets(), None, lambda: {})  # type: ignore[arg-type]
        socket = _Socket()
        sub = Subscriber(SessionStore(lambda: 0.0).open("ann", "agent", "1001", None), socket)
        hub.add(sub)
        for _ in range(OUTBOX + 1):
            hub.to_agent("1001", {"type": "x"})
        assert sub not in hub.subscribers
        await hub.stop()

    asyncio.run(run())


async def test_a_sentence_heard_after_the_pop_completes_it() -> None:
    """Direct flow: the agent is offered the call during the greeting, before the caller has
    spoken; the transcript and the classifier's findings follow in a pop_speech message to that
    agent."""
    from hotline.acd.events import OfferCall
    from hotline.calls.tracker import CallInProgress
    from hotline.desk.live import LiveHub, Subscriber

    call = CallInProgress(
        "c1", "c1", "13800000000", "12345", "PJSIP/t-1", 1.0, ivr_path="direct", skill="general"
    )
    hub = LiveHub(_FakeAcd({"c1": call}), _FakeTickets(), None, lambda: {})  # type: ignore[arg-type]
    store = SessionStore(lambda: 0.0)
    mine = Subscriber(store.open("ann", "agent", "1001", None), _Socket())
    other = Subscriber(store.open("bob", "agent", "1002", None), _Socket())
    for sub in (mine, other):
        hub.add(sub)
        sub.outbox.get_nowait()
    hub.observe(
        OfferCall(call_id="c1", agent_id="1001", seat="S", channel="PJSIP/t-1",
                  caller="13800000000", ring_timeout_s=15)
    )  # fmt: skip
    pop = json.loads(await asyncio.wait_for(mine.outbox.get(), 5))
    assert pop["speech_text"] == "" and pop["form"]["category"] == "consultation"
    hub.speech_heard("other-call", "无关", "02.01", "help")  # not this agent's call: nothing
    hub.speech_heard("c1", "我家停水了", "02.01", "help")
    update = json.loads(mine.outbox.get_nowait())
    await hub.stop()
    assert update["type"] == "pop_speech" and update["call_id"] == "c1"
    assert update["speech_text"] == "我家停水了"
    assert update["form"]["category"] == "help" and update["form"]["subject_code"] == "02.01"
    assert update["form"]["description"] == "我家停水了"
    assert update["form"]["caller_number"] == "13800000000"
    assert hub.pops["1001"]["speech_text"] == "我家停水了"  # a page opened now gets it too
    assert other.outbox.empty() and mine.outbox.empty()


def test_wallboard_counts_a_call_when_answered_masks_numbers_and_colours_figures() -> None:
    status = {
        "waiting": [
            WaitingCallView("c1", "consult", 0, "13800000000", "PJSIP/x", 108.0, "waiting", None),  # type: ignore[arg-type]
            WaitingCallView("c2", "consult", 0, "anonymous", "PJSIP/y", 100.0, "waiting", None),  # type: ignore[arg-type]
        ],
        "agents": [
            AgentView("1001", "S", (("consult", 1),), AgentState.ON_CALL, "", 100.0, "c9"),
        ],
        "metrics": {"today": [{"skill": "*", "service_level": 0.75, "offered": 4, "answered": 3}],
                    "interval": [{"skill": "*", "service_level": 0.5}]},
    }  # fmt: skip
    board = wallboard(status, now=120.0, talking={"c9": "consult"})
    rows = {r["skill"]: r for r in board["skills"]}
    # 4 finished + 2 waiting + 1 being talked on; answered: 3 finished + 1 being talked on.
    assert rows["*"]["offered_today"] == 7 and rows["*"]["answered_today"] == 4
    assert rows["consult"]["answered_today"] == 1
    assert [w["caller"] for w in board["waiting"]] == ["138****0000", ""]
    assert [w["wait_level"] for w in board["waiting"]] == ["amber", "red"]
    assert rows["*"]["sl_today_level"] == "amber" and rows["*"]["sl_interval_level"] == "red"
    assert mask_number("12345") == "12****" and wait_level(3.0) == "green"
    assert sl_level(0.9) == "green" and sl_level(None) == "none"
