"""gap resolutions: past unanswered questions that new knowledge now answers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gap_resolutions",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    with op.batch_alter_table("gap_resolutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gap_resolutions_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gap_resolutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gap_resolutions_app_id"))
    op.drop_table("gap_resolutions")
