"""human handoff: agents, handoff state on conversations, agent replies, notes, tickets, CSAT

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("apps", sa.JSON(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handoff_state", sa.String(length=16), server_default="bot", nullable=False)
        )
        batch_op.add_column(sa.Column("assigned_agent_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("handoff_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handoff_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("handoff_note", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_conversations_handoff",
            ["handoff_state", "handoff_at"],
            unique=False,
            sqlite_where=sa.text("handoff_state != 'bot'"),
            postgresql_where=sa.text("handoff_state != 'bot'"),
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("agent_name", sa.String(length=64), nullable=True))
    op.create_table(
        "agent_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("agent_name", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agent_notes_conversation", ["conversation_id", "created_at"], unique=False
        )
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_app_status", ["app_id", "status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tickets_conversation_id"), ["conversation_id"], unique=False
        )
    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("handoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("csat_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_csat_ratings_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_csat_ratings_app_id"), ["app_id"], unique=False)
        batch_op.create_index(
            "ix_csat_conversation_handoff", ["conversation_id", "handoff_at"], unique=True
        )


def downgrade() -> None:
    op.drop_table("csat_ratings")
    op.drop_table("tickets")
    op.drop_table("agent_notes")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("agent_name")
        batch_op.drop_column("agent_id")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_handoff")
        batch_op.drop_column("handoff_note")
        batch_op.drop_column("handoff_reason")
        batch_op.drop_column("handoff_at")
        batch_op.drop_column("assigned_agent_id")
        batch_op.drop_column("handoff_state")
    op.drop_table("agents")
