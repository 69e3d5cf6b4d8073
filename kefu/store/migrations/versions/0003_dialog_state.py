"""dialog state on conversations; intent and sentiment on messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dialog_state", sa.JSON(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("sentiment", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sentiment")
        batch_op.drop_column("intent")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("dialog_state")
