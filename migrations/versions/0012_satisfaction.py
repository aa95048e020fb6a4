"""satisfaction per call (一次一评), 110 linkage marks, emergency handoffs, survey calls

Revision ID: 0012
Revises: 0013 (main's node column, itself after 0011)
Create Date: 2026-12-07 05:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(sa.Column("satisfaction", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("linkage", sa.String(length=16), nullable=False, server_default=""))
        batch.add_column(sa.Column("double_non", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("service", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("double_non", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index(op.f("ix_handoffs_call_id"), "handoffs", ["call_id"])
    op.create_index(op.f("ix_handoffs_at"), "handoffs", ["at"])
    op.create_table(
        "survey_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("satisfaction", sa.String(length=16), nullable=False),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_calls")),
        sa.UniqueConstraint("ticket", "attempt", name=op.f("uq_survey_calls_ticket_attempt")),
    )
    op.create_index(op.f("ix_survey_calls_ticket"), "survey_calls", ["ticket"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_calls_ticket"), table_name="survey_calls")
    op.drop_table("survey_calls")
    op.drop_index(op.f("ix_handoffs_at"), table_name="handoffs")
    op.drop_index(op.f("ix_handoffs_call_id"), table_name="handoffs")
    op.drop_table("handoffs")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("double_non")
        batch.drop_column("linkage")
        batch.drop_column("satisfaction")
