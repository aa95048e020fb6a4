"""User accounts of the web desktop: who may log in, with which role, as which agent or unit.

Synchronous (SQLAlchemy), like the ticket store; the HTTP layer calls it from a worker thread.
Rules: a name is 1-64 letters, digits or ``._-``; an ``agent`` user is tied to one configured
agent id (its seat), a ``supervisor`` may be (the phone it listens on), a ``unit`` user to one
handling unit; other roles have neither.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.base.db import lease_engine
from hotline.base.web.security import DUMMY_HASH, ROLES, hash_password, verify_password
from hotline.desk.models import UserRow

_NAME = re.compile(r"^[\w.\-]{1,64}$")
SEATED = ("agent", "supervisor", "reviewer")  # supervisors listen (ChanSpy), reviewers call back


class UserError(ValueError):
    """Bad user data; the message names the field."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    agent_id: str | None
    unit: str | None
    active: bool
    stamp: str = ""
    """Changes with the password (a digest of its hash, which is salted): a session opened
    under another stamp was opened before a reset and is no longer valid."""


def check_user(name: str, role: str, agent_id: str | None, unit: str | None) -> None:
    if not _NAME.match(name):
        raise UserError("name: 1-64 letters, digits or ._-")
    if role not in ROLES:
        raise UserError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if role == "agent" and not agent_id:
        raise UserError("agent: an agent user needs --agent AGENT_ID (its seat)")
    if role not in SEATED and agent_id:
        raise UserError(f"agent: only {', '.join(SEATED)} have a seat, not {role}")
    if role == "unit" and not unit:
        raise UserError("unit: a unit user needs --unit UNIT")
    if role != "unit" and unit:
        raise UserError(f"unit: only unit users belong to a unit, not {role}")
    for field_name, value in (("agent", agent_id), ("unit", unit)):
        if value is not None and not _NAME.match(value):
            raise UserError(f"{field_name}: 1-64 letters, digits or ._-")


def password_stamp(
    password_hash: str, role: str = "", agent_id: str | None = None, unit: str | None = None
) -> str:
    """A session is valid while this is unchanged: a new password, role, seat or unit (``hotline
    user edit``) ends the sessions opened before, which carry the old role and seat."""
    what = "\0".join((password_hash, role, agent_id or "", unit or ""))
    return hashlib.sha256(what.encode()).hexdigest()[:16]


def _user(row: UserRow) -> User:
    stamp = password_stamp(row.password_hash, row.role, row.agent_id, row.unit)
    return User(row.name, row.role, row.agent_id, row.unit, row.active, stamp)


class UserStore:
    def __init__(self, url: str) -> None:
        self._lease = lease_engine(url)  # the process's one engine (one pool) for the URL
        self.engine = self._lease.engine

    def dispose(self) -> None:
        self._lease.release()

    def add(
        self,
        name: str,
        role: str,
        password: str,
        *,
        agent_id: str | None = None,
        unit: str | None = None,
    ) -> User:
        check_user(name, role, agent_id, unit)
        password_hash = hash_password(password)
        row = UserRow(
            name=name,
            password_hash=password_hash,
            role=role,
            agent_id=agent_id,
            unit=unit,
            active=True,
            created_at=datetime.now(UTC),
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise UserError(f"name: user {name!r} exists already") from None
        return User(
            name, role, agent_id, unit, True, password_stamp(password_hash, role, agent_id, unit)
        )

    def set_active(self, name: str, active: bool) -> User:
        """Enable or disable a user (disabled: no log-in, open sessions end)."""
        return self._change(name, active=active)

    def set_password(self, name: str, password: str) -> User:
        """A new password; sessions opened under the old one end (their stamp differs)."""
        return self._change(name, password_hash=hash_password(password))

    def edit(
        self,
        name: str,
        *,
        role: str | None = None,
        agent_id: str | None = None,
        unit: str | None = None,
        password: str | None = None,
        active: bool | None = None,
    ) -> User:
        """Change what is given; "" clears the seat or the unit. The result is checked as
        ``add`` checks a new user (an agent keeps a seat, a unit user a unit)."""
        current = self.get(name)
        if current is None:
            raise UserError(f"name: no user {name!r}")
        new_role = role if role is not None else current.role
        new_agent = current.agent_id if agent_id is None else agent_id or None
        new_unit = current.unit if unit is None else unit or None
        check_user(name, new_role, new_agent, new_unit)
        values: dict[str, object] = {"role": new_role, "agent_id": new_agent, "unit": new_unit}
        if password is not None:
            values["password_hash"] = hash_password(password)
        if active is not None:
            values["active"] = active
        return self._change(name, **values)

    def _change(self, name: str, **values: object) -> User:
        with Session(self.engine) as session, session.begin():
            row = session.get(UserRow, name) if _NAME.match(name) else None
            if row is None:
                raise UserError(f"name: no user {name!r}")
            for key, value in values.items():
                setattr(row, key, value)
            return _user(row)

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None (same time either way)."""
        row = self._row(name)
        if row is None or not row.active:
            verify_password(DUMMY_HASH, password)
            return None
        return _user(row) if verify_password(row.password_hash, password) else None

    def get(self, name: str) -> User | None:
        row = self._row(name)
        return None if row is None else _user(row)

    def _row(self, name: str) -> UserRow | None:
        if not _NAME.match(name):
            return None
        with Session(self.engine) as session:
            return session.scalars(select(UserRow).where(UserRow.name == name)).first()

    def list(self) -> list[User]:
        with Session(self.engine) as session:
            return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.name))]
