"""message files: images customers upload or link, and the message that carries them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("end_user_id", sa.String(length=36), nullable=False),
        sa.Column("transfer_method", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_files_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_message_files_end_user_id"), ["end_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_message_files_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_files_message_id"))
        batch_op.drop_index(batch_op.f("ix_message_files_end_user_id"))
        batch_op.drop_index(batch_op.f("ix_message_files_app_id"))
    op.drop_table("message_files")
