"""tickets: the state voicemail_review (a message left out of hours, awaiting review)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:00:00

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Frozen copies (see 0002): the states before and after this revision.
STATES_0002 = (
    "created", "closed_direct", "dispatched", "signed", "returned", "in_progress",
    "extension_requested", "closed_by_unit", "reviewed", "callback_done", "reopened", "archived",
)
STATES = ("voicemail_review", *STATES_0002)


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_state_check(states: Sequence[str]) -> None:
    # SQLite cannot alter a CHECK: batch mode copies the table with the new constraint.
    with op.batch_alter_table("tickets", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_tickets_state"), type_="check")
        batch.create_check_constraint(op.f("ck_tickets_state"), _in("state", states))


def upgrade() -> None:
    _replace_state_check(STATES)


def downgrade() -> None:
    # Orders still awaiting review cannot be described by the old schema: they go back to
    # created (a reviewer's step is lost, the order is not).
    op.execute("UPDATE tickets SET state = 'created' WHERE state = 'voicemail_review'")
    _replace_state_check(STATES_0002)
