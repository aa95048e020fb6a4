"""call records: the cluster node that held the call, and the outcome node_failed

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07 05:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Written out, not imported: a revision keeps the outcomes of when it was written.
BEFORE = ("answered", "abandoned_queue", "abandoned_ivr", "voicemail", "transferred")
AFTER = (*BEFORE, "node_failed")


def _check(outcomes: tuple[str, ...]) -> str:
    return "outcome IN (" + ", ".join(f"'{o}'" for o in outcomes) + ")"


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("node", sa.String(length=16), nullable=False, server_default=""))
        batch.drop_constraint(op.f("ck_call_records_outcome"), type_="check")
        batch.create_check_constraint(op.f("ck_call_records_outcome"), _check(AFTER))


def downgrade() -> None:
    op.execute("DELETE FROM call_records WHERE outcome = 'node_failed'")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_constraint(op.f("ck_call_records_outcome"), type_="check")
        batch.create_check_constraint(op.f("ck_call_records_outcome"), _check(BEFORE))
        batch.drop_column("node")
