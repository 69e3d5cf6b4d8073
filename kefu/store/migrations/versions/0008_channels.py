"""channels: deliveries taken in (duplicates ignored), customer links, pull cursors

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_deliveries",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "channel", "message_id"),
    )
    with op.batch_alter_table("channel_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_deliveries_received_at"), ["received_at"], unique=False
        )
    op.create_table(
        "channel_links",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=255), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "channel", "peer"),
    )
    with op.batch_alter_table("channel_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_links_conversation_id"), ["conversation_id"], unique=False
        )
    op.create_table(
        "channel_cursors",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_cursors")
    with op.batch_alter_table("channel_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_links_conversation_id"))
    op.drop_table("channel_links")
    with op.batch_alter_table("channel_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_deliveries_received_at"))
    op.drop_table("channel_deliveries")
