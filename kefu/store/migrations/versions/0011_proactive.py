"""proactive service: events that met a rule, offers made, cool-down slots, opt-outs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _app_id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("app_id", sa.String(length=36), nullable=False)


def _app_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "proactive_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        _app_id(),
        sa.Column("end_user_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        _app_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_proactive_events_user_rule_at",
        "proactive_events",
        ["app_id", "end_user_id", "rule", "at"],
    )
    op.create_index("ix_proactive_events_at", "proactive_events", ["at"])
    op.create_table(
        "proactive_offers",
        sa.Column("id", sa.String(length=36), nullable=False),
        _app_id(),
        sa.Column("end_user_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("via", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        _app_fk(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_proactive_offers_app_created", "proactive_offers", ["app_id", "created_at"])
    op.create_index("ix_proactive_offers_end_user_id", "proactive_offers", ["end_user_id"])
    op.create_table(
        "proactive_slots",
        _app_id(),
        sa.Column("end_user_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("last_offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_count", sa.Integer(), nullable=False),
        _app_fk(),
        sa.PrimaryKeyConstraint("app_id", "end_user_id", "rule"),
    )
    op.create_table(
        "proactive_opt_outs",
        _app_id(),
        sa.Column("end_user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _app_fk(),
        sa.PrimaryKeyConstraint("app_id", "end_user_id"),
    )


def downgrade() -> None:
    op.drop_table("proactive_opt_outs")
    op.drop_table("proactive_slots")
    op.drop_index("ix_proactive_offers_end_user_id", table_name="proactive_offers")
    op.drop_index("ix_proactive_offers_app_created", table_name="proactive_offers")
    op.drop_table("proactive_offers")
    op.drop_index("ix_proactive_events_at", table_name="proactive_events")
    op.drop_index("ix_proactive_events_user_rule_at", table_name="proactive_events")
    op.drop_table("proactive_events")
