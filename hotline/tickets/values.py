"""Work-order (工单) values and input validation, pure: what a ticket holds and what may go in.

Hostile input: every text field has a length limit and a character check; a bad value raises
:class:`FieldError` (a ValueError) whose message starts with the field's name, e.g.
``address: 231 characters, at most 200``. The HTTP layer answers it with a 400 and that message.
Limits count characters (``len(str)``) and the columns are sized to them: PostgreSQL's
VARCHAR(n) counts characters too, and SQLite enforces no length at all, so this module is the
only guard there. Control characters, bidirectional overrides (they make text display other
than it reads) and lone surrogates (PostgreSQL refuses them as invalid UTF-8) are refused.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NoReturn

from hotline.tickets.lifecycle import SurveyOutcome, TicketSnapshot, TicketState, TransitionEvent
from hotline.tickets.workdays import Category

LIMITS = {
    "caller_name": 64,
    "caller_number": 32,
    "contact": 64,
    "address": 200,
    "description": 4000,
    "subject_code": 32,
    "unit": 64,
    "actor": 64,
    "note": 1000,
    "reason": 1000,
    "result": 4000,
    "recording": 255,
    "call": 64,
    "area": 32,
}
MAX_LINKS = 50  # calls or recordings given at intake
MAX_EXTENSION_DAYS = 60

# The unit a complaint or report is about is written down so that unit never sees who made it.
PROTECTED_CATEGORIES = frozenset({"complaint", "report"})
UNIT_OPEN_STATES = frozenset(
    {
        TicketState.DISPATCHED,
        TicketState.SIGNED,
        TicketState.IN_PROGRESS,
        TicketState.EXTENSION_REQUESTED,
        TicketState.REOPENED,
        TicketState.DISPUTED,
    }
)  # a unit holds the order and its reply deadline runs
FINAL_STATES = frozenset({TicketState.CLOSED_DIRECT, TicketState.ARCHIVED})

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UNIT = re.compile(r"^[\w.\-]{1,64}$")
_CALL_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_SUBJECT = re.compile(r"^[0-9A-Za-z]{1,8}(\.[0-9A-Za-z]{1,8}){0,4}$")
_AREA = re.compile(r"^[\w.\-]{1,32}$")
_PHONE_CHARS = frozenset("0123456789+-() ")


class FieldError(ValueError):
    """One input field is wrong; ``str()`` starts with the field's name."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


class Channel(enum.StrEnum):
    PHONE = "phone"
    VOICEMAIL = "voicemail"
    WEB = "web"


class HandlingType(enum.StrEnum):
    NORMAL = "normal"
    EMERGENCY = "emergency"  # 突发: on site within 2 h, reply within 2 working days
    KEY_ITEM = "key_item"  # 重点: many people or repeated calls; also set by detection
    REDIRECTION = "redirection"  # 指引: sent to 110/119/120/122, discipline, petitions


TICKET_CATEGORIES = tuple(c.value for c in Category if c is not Category.EMERGENCY)


def clean_text(
    name: str, value: object, limit: int, *, required: bool = False, multiline: bool = False
) -> str:
    """The stripped text, or FieldError naming ``name``."""
    if not isinstance(value, str):
        raise FieldError(name, f"must be text, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(name, "is not valid Unicode (lone surrogate)") from None
    text = value.replace("\r\n", "\n").strip() if multiline else value.strip()
    for ch in text:
        allowed_ws = multiline and ch in "\n\t"
        if (unicodedata.category(ch) == "Cc" and not allowed_ws) or ch in _BIDI:
            raise FieldError(name, f"contains the control character U+{ord(ch):04X}")
    if len(text) > limit:
        raise FieldError(name, f"{len(text)} characters, at most {limit}")
    if required and not text:
        raise FieldError(name, "must not be empty")
    return text


def clean_unit(name: str, value: object) -> str:
    text = clean_text(name, value, LIMITS["unit"], required=True)
    if not _UNIT.match(text):
        raise FieldError(name, f"{text!r} is not a unit code (letters, digits, . _ -)")
    return text


def clean_area(value: object, name: str = "area") -> str:
    """An area code of the dispatch catalogue (district, street: letters, digits, . _ -)."""
    text = clean_text(name, value, LIMITS["area"])
    if text and not _AREA.match(text):
        raise FieldError(name, f"{text!r} is not an area code (letters, digits, . _ -)")
    return text


def clean_call_id(value: object) -> str:
    text = clean_text("call", value, LIMITS["call"], required=True)
    if not _CALL_ID.match(text):
        raise FieldError("call", f"{text!r} is not a call unique id (letters, digits, . _ -)")
    return text


def clean_recording(value: object) -> str:
    text = clean_text("recording", value, LIMITS["recording"], required=True)
    # A recording reference may become a file path later: no way out of the recordings tree.
    if "\\" in text or ".." in text.split("/"):
        raise FieldError("recording", f"{text!r} must not contain '..' segments or backslashes")
    return text


def normalise_phone(value: object, name: str = "caller_number") -> str:
    """Digits (with a leading + kept): '0411-8888 1234' and full-width digits match."""
    text = unicodedata.normalize("NFKC", clean_text(name, value, LIMITS[name]))
    bad = sorted({ch for ch in text if ch not in _PHONE_CHARS})
    if bad:
        raise FieldError(name, f"{text!r} is not a phone number (found {''.join(bad)!r})")
    digits = "".join(ch for ch in text if ch.isdigit())
    if text and not digits:
        raise FieldError(name, f"{text!r} has no digits")
    return ("+" if text.startswith("+") else "") + digits


def address_key(address: str) -> str:
    """Same place, however typed: NFKC (full-width digits), case folded, and spaces,
    punctuation and symbols dropped ('人民路 5号' == '人民路5号' == '人民路５号。')."""
    folded = unicodedata.normalize("NFKC", address).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZSC")


@dataclass(frozen=True)
class SubjectTree:
    """Subject classification (e.g. ``02`` 公用事业 > ``02.01`` 供水): codes with dots, each
    code's parent must be in the tree too. A ticket may carry any code of the tree."""

    names: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", dict(self.names))
        for code in self.names:
            if not _SUBJECT.match(code):
                raise ValueError(f"subject code {code!r}: use 1-8 letters/digits per level, dots")
            parent = code.rpartition(".")[0]
            if parent and parent not in self.names:
                raise ValueError(f"subject code {code!r}: its parent {parent!r} is missing")

    def validate(self, value: object) -> str:
        code = clean_text("subject_code", value, LIMITS["subject_code"], required=True)
        if code not in self.names:
            raise FieldError("subject_code", f"{code!r} is not in the subject classification")
        return code

    def path(self, code: str) -> list[tuple[str, str]]:
        parts = code.split(".")
        return [(c, self.names[c]) for c in (".".join(parts[: i + 1]) for i in range(len(parts)))]


DEFAULT_SUBJECTS = {
    "01": "城乡建设", "01.01": "道路与市政设施", "01.02": "住房与物业",
    "02": "公用事业", "02.01": "供水", "02.02": "供电", "02.03": "供气", "02.04": "供暖",
    "03": "市场监管", "03.01": "消费维权", "03.02": "食品安全",
    "04": "生态环境", "04.01": "噪声", "04.02": "大气与水污染",
    "05": "社会保障", "05.01": "社保与就业", "05.02": "医疗",
    "06": "交通运输", "06.01": "公共交通", "06.02": "出租车与网约车",
    "99": "其他",
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TicketDraft:
    """What an agent enters at intake; the constructor cleans and checks every field
    (the subject code is checked against the configured tree by the service)."""

    category: str
    description: str
    subject_code: str
    channel: str = Channel.PHONE.value
    handling_type: str = HandlingType.NORMAL.value
    caller_name: str = ""
    caller_number: str = ""
    contact: str = ""
    address: str = ""
    about_unit: str = ""
    confidential: bool = False
    calls: tuple[str, ...] = ()
    recordings: tuple[str, ...] = ()
    area: str = ""  # the catalogue's area code; empty: found from the address by the service

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("category", _choice("category", self.category, TICKET_CATEGORIES))
        put("channel", _choice("channel", self.channel, tuple(Channel)))
        put("handling_type", _choice("handling_type", self.handling_type, tuple(HandlingType)))
        desc = clean_text("description", self.description, LIMITS["description"], multiline=True)
        put("description", desc or _required("description"))
        put("subject_code", clean_text("subject_code", self.subject_code, LIMITS["subject_code"]))
        for name in ("caller_name", "contact", "address"):
            put(name, clean_text(name, getattr(self, name), LIMITS[name]))
        put("caller_number", normalise_phone(self.caller_number))
        put("about_unit", clean_unit("about_unit", self.about_unit) if self.about_unit else "")
        put("area", clean_area(self.area))
        if not isinstance(self.confidential, bool):
            raise FieldError("confidential", "must be true or false")
        put("calls", links("calls", self.calls, clean_call_id))
        put("recordings", links("recordings", self.recordings, clean_recording))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketDraft:
        """From untrusted JSON: unknown keys are refused, not ignored (a typo loses data)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FieldError(unknown[0], f"unknown field (known: {', '.join(sorted(known))})")
        for name in ("category", "description", "subject_code"):
            if name not in data:
                _required(name)
        kwargs = dict(data)
        for name in ("calls", "recordings"):
            if name in kwargs:
                if not isinstance(kwargs[name], list):
                    raise FieldError(name, "must be a list")
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)


def _required(name: str) -> NoReturn:
    raise FieldError(name, "must not be empty")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown = repr(value)[:40]
        raise FieldError(name, f"{shown} is not one of {', '.join(allowed)}")
    return value


def links(name: str, values: object, clean: Callable[[object], str]) -> tuple[str, ...]:
    if not isinstance(values, tuple | list):
        raise FieldError(name, "must be a list")
    if len(values) > MAX_LINKS:
        raise FieldError(name, f"{len(values)} entries, at most {MAX_LINKS}")
    out: list[str] = []
    for v in values:
        cleaned = clean(v)
        if cleaned not in out:
            out.append(cleaned)
    return tuple(out)


PLATFORM_ROLES = ("agent", "dispatcher", "callback", "supervisor")


@dataclass(frozen=True)
class Viewer:
    """Who is asking. Platform roles see every ticket; ``unit`` sees only tickets dispatched to
    its unit (lead or co-unit) and never who complained about or reported it."""

    role: str
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.role == "unit":
            object.__setattr__(self, "unit", clean_unit("unit", self.unit or ""))
        elif self.role in PLATFORM_ROLES:
            if self.unit:
                raise FieldError("unit", f"role {self.role} is platform staff, not a unit")
        else:
            raise FieldError(
                "role", f"{self.role!r} is not one of unit, {', '.join(PLATFORM_ROLES)}"
            )

    @property
    def is_unit(self) -> bool:
        return self.role == "unit"


@dataclass(frozen=True, kw_only=True)
class TicketRecord:
    """A stored ticket as the service hands it out (possibly redacted for the viewer)."""

    id: int
    number: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    category: str
    handling_type: str
    subject_code: str
    description: str
    channel: str
    caller_name: str
    caller_number: str
    contact: str
    address: str
    about_unit: str
    confidential: bool
    key_item: bool
    key_group: str | None
    state: TicketState
    unit: str | None
    co_units: tuple[str, ...]
    extension_days: int
    pending_extension_days: int
    survey_attempts: int
    survey_outcome: SurveyOutcome | None
    reopen_count: int
    last_event_seq: int
    last_contact_at: datetime
    dispatched_at: datetime | None = None
    return_due_at: datetime | None = None
    reply_due_at: datetime | None = None
    onsite_due_at: datetime | None = None
    closed_at: datetime | None = None
    callback_due_at: datetime | None = None
    deadline_provisional: bool = False
    """A deadline was counted across a provisional calendar year (hotline.base.daytypes)."""
    survey_solved: bool | None = None
    dispute_until: datetime | None = None
    disputed: bool = False
    merged_into: str | None = None
    area: str = ""
    calls: tuple[str, ...] = ()
    recordings: tuple[str, ...] = ()
    redacted: bool = False

    @property
    def snapshot(self) -> TicketSnapshot:
        return TicketSnapshot(
            state=self.state,
            unit=self.unit,
            co_units=self.co_units,
            extension_days=self.extension_days,
            pending_extension_days=self.pending_extension_days,
            survey_attempts=self.survey_attempts,
            survey_outcome=self.survey_outcome,
            reopen_count=self.reopen_count,
            last_event_seq=self.last_event_seq,
            survey_solved=self.survey_solved,
            dispute_until=self.dispute_until,
            disputed=self.disputed,
            merged_into=self.merged_into,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out


@dataclass(frozen=True)
class Notice:
    """A supervision notice (督办通知书): an overdue order, or one reopened under supervision."""

    id: int
    ticket_number: str
    unit: str
    reason: str  # "overdue" | "reopened"
    due_at: datetime
    issued_at: datetime
    issued_by: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "ticket_number": self.ticket_number, "unit": self.unit,
            "reason": self.reason, "due_at": self.due_at.isoformat(),
            "issued_at": self.issued_at.isoformat(), "issued_by": self.issued_by,
            "note": self.note,
        }  # fmt: skip


@dataclass(frozen=True)
class RepeatCheck:
    """A call from ``caller``: its open tickets from the last N days, and whether it repeats."""

    caller: str
    repeat: bool
    tickets: tuple[TicketRecord, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "caller": self.caller,
            "repeat": self.repeat,
            "tickets": [t.to_json() for t in self.tickets],
        }


class TicketNotFound(LookupError):
    """No such ticket, or one the viewer may not see (the two look the same on purpose)."""

    def __init__(self, number: str) -> None:
        self.number = number
        super().__init__(f"ticket {number} not found")


class AccessDenied(Exception):
    """The viewer sees the ticket but may not do this to it."""


@dataclass(frozen=True)
class TransitionPlan:
    """What one lifecycle step writes: the event row and the ticket row's new values."""

    snapshot: TicketSnapshot
    event: TransitionEvent
    due_at: datetime | None  # the reply deadline in force when the event happened
    changes: Mapping[str, datetime | str | bool | None] = field(default_factory=dict)  # columns
    notice_reason: str | None = None  # e.g. "reopened": a supervision notice goes with it
    event_unit: str | None = None  # the lead unit the event concerns (per-unit figures)
    respond_due_at: datetime | None = None  # the sign-for/return deadline in force
    followers: Callable[[TicketRecord], TransitionPlan] | None = None
    """A step for every order merged into this one and still ``merged`` (the lead closed):
    written in the same transaction, so no merged caller is forgotten."""


@dataclass(frozen=True)
class Similar:
    """A ticket on the same place and subject, as the key-item rule sees it."""

    number: str
    caller: str  # caller number, else contact; empty when the caller gave neither
    key_group: str | None
