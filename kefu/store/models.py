"""Relational schema (SQLAlchemy 2 typed mappings). Migrations live in ``migrations/``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AgentNoteRow",
    "AgentRow",
    "AnnotationRow",
    "AnnotationSettingRow",
    "ApiKeyRow",
    "AppRow",
    "AuditRow",
    "Base",
    "ChannelCursorRow",
    "ChannelDeliveryRow",
    "ChannelLinkRow",
    "ChunkRow",
    "ConversationRow",
    "CsatRow",
    "DatasetRow",
    "DocumentRow",
    "EndUserRow",
    "FaqRow",
    "FeedbackRow",
    "FileRow",
    "GapResolutionRow",
    "HandoffEventRow",
    "MessageRow",
    "ProactiveEventRow",
    "ProactiveOfferRow",
    "ProactiveOptOutRow",
    "ProactiveSlotRow",
    "TicketRow",
    "TraceRow",
]


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        dict[str, Any] | None: JSON,
        list[Any]: JSON,
    }


class AppRow(Base):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    config: Mapped[dict[str, Any]]
    knowledge_revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    """An API key, stored as a SHA-256 hash; only the prefix is ever shown again."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # app | dataset | admin
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EndUserRow(Base):
    __tablename__ = "end_users"
    __table_args__ = (Index("ix_end_users_app_external", "app_id", "external_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_user_updated", "end_user_id", "updated_at"),
        # Partial: almost every conversation stays with the bot; only hand-overs are indexed,
        # so a customer's turn does not pay for the agents' inbox.
        Index(
            "ix_conversations_handoff",
            "handoff_state",
            "handoff_at",
            sqlite_where=text("handoff_state != 'bot'"),
            postgresql_where=text("handoff_state != 'bot'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    end_user_id: Mapped[str] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), default="")
    inputs: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="normal")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Flows in progress, their slots, sentiment streaks (kefu.engine.dialog.dialog_state).
    dialog_state: Mapped[dict[str, Any] | None]
    # Human handoff (kefu.handoff.states): bot | pending_human | human | resolved.
    handoff_state: Mapped[str] = mapped_column(String(16), default="bot", server_default="bot")
    assigned_agent_id: Mapped[str | None] = mapped_column(String(36))
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handoff_reason: Mapped[str | None] = mapped_column(String(64))
    handoff_note: Mapped[dict[str, Any] | None]  # the handover note for the agent


class MessageRow(Base):
    """One turn: the customer's query and the answer given to it."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    end_user_id: Mapped[str] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # normal | stopped | error
    route: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    retriever_resources: Mapped[list[Any]]
    usage: Mapped[dict[str, Any]]
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    intent: Mapped[str | None] = mapped_column(String(128))
    sentiment: Mapped[str | None] = mapped_column(String(16))  # negative | neutral | positive
    # An agent's reply (query empty, answer the reply); name as shown to the customer then.
    agent_id: Mapped[str | None] = mapped_column(String(36))
    agent_name: Mapped[str | None] = mapped_column(String(64))


class TraceRow(Base):
    """Why an answer was given: stages, timings, retrieved chunks and scores, route."""

    __tablename__ = "message_traces"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeedbackRow(Base):
    __tablename__ = "feedbacks"
    __table_args__ = (Index("ix_feedbacks_message_user", "message_id", "end_user_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    end_user_id: Mapped[str] = mapped_column(ForeignKey("end_users.id", ondelete="CASCADE"))
    rating: Mapped[str] = mapped_column(String(16))  # like | dislike
    content: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DocumentRow(Base):
    """A knowledge source: a policy document or an FAQ file."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (Index("ix_documents_app_source", "app_id", "source", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(1024))  # path or upload name; unique per app
    origin: Mapped[str] = mapped_column(String(16))  # config | import | api
    kind: Mapped[str] = mapped_column(String(16))  # document | faq
    content_hash: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The dataset it belongs to (knowledge API); None: the app's default dataset.
    dataset_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # The app's knowledge revision that wrote its current content: indexed once an app's
    # index has loaded that revision (the knowledge API's indexing status).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DatasetRow(Base):
    """A named group of an app's documents (a Dify "dataset"); all feed the app's index."""

    __tablename__ = "knowledge_datasets"
    __table_args__ = (Index("ix_datasets_app_name", "app_id", "name", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnnotationRow(Base):
    """A curated question → answer that, once annotation reply is on, answers directly."""

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_app_created", "app_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnnotationSettingRow(Base):
    """An app's annotation-reply switch and threshold (no row: off)."""

    __tablename__ = "annotation_settings"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    score_threshold: Mapped[float] = mapped_column(Float)
    embedding_provider_name: Mapped[str | None] = mapped_column(String(255))
    embedding_model_name: Mapped[str | None] = mapped_column(String(255))
    job_id: Mapped[str] = mapped_column(String(36))  # the last enable/disable request
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChunkRow(Base):
    __tablename__ = "knowledge_chunks"
    __table_args__ = (Index("ix_chunks_document_position", "document_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text)


class FaqRow(Base):
    __tablename__ = "faq_entries"
    __table_args__ = (Index("ix_faq_app_external", "app_id", "external_id", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(128))
    question: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[Any]]
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """An admin action: who, what, when (and on what)."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]]


class AgentRow(Base):
    """A human agent of the operator console; its key is stored as a SHA-256 hash."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    apps: Mapped[list[Any]]  # names of the apps it serves; empty: all
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AgentNoteRow(Base):
    """An internal note on a conversation: agents see it, the customer never does."""

    __tablename__ = "agent_notes"
    __table_args__ = (Index("ix_agent_notes_conversation", "conversation_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(String(36))
    agent_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TicketRow(Base):
    """A ticket (工单) for what cannot be solved live."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_app_status", "app_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16))  # low | normal | high | urgent
    status: Mapped[str] = mapped_column(String(16))  # open | pending | solved | closed
    assignee_id: Mapped[str | None] = mapped_column(String(36))
    created_by: Mapped[str] = mapped_column(String(64))  # agent name, or "bot" (after hours)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CsatRow(Base):
    """The customer's satisfaction rating (1-5) of one hand-over, credited to its agent."""

    __tablename__ = "csat_ratings"
    __table_args__ = (
        Index("ix_csat_conversation_handoff", "conversation_id", "handoff_at", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(String(36), index=True)
    handoff_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HandoffEventRow(Base):
    """One move of a conversation's hand-over state (request, claim, transfer, resolve…).

    Written in the transaction that moves the state, so the history is exact; service
    analytics (queue waiting time, handling time, hand-over reasons) read it.
    """

    __tablename__ = "handoff_events"
    __table_args__ = (Index("ix_handoff_events_app_at", "app_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(String(36))  # assigned after the move
    reason: Mapped[str | None] = mapped_column(String(64))  # set when a hand-over begins
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GapResolutionRow(Base):
    """A past unanswered (or disliked) question that knowledge added since now answers:
    the knowledge-gap report leaves it out. Written by the knowledge loop's re-check."""

    __tablename__ = "gap_resolutions"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    resolved_by: Mapped[str] = mapped_column(String(64))  # annotation:<id> | faq:<id>
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChannelDeliveryRow(Base):
    """A platform message a channel has taken in: a second delivery of the same id is a
    duplicate (platforms retry callbacks they think were lost)."""

    __tablename__ = "channel_deliveries"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ChannelLinkRow(Base):
    """A customer on a channel (``peer``: the platform's user) and their kefu conversation;
    ``address`` is what the channel needs to send them a message."""

    __tablename__ = "channel_links"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer: Mapped[str] = mapped_column(String(255), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(36), index=True)
    address: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChannelCursorRow(Base):
    """Where a pulling channel (WeCom ``sync_msg``) stopped reading."""

    __tablename__ = "channel_cursors"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FileRow(Base):
    """A file a customer sent: an uploaded image (``path`` under the data dir) or a remote
    URL kept as given (never fetched); ``message_id`` once a message carries it."""

    __tablename__ = "message_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    end_user_id: Mapped[str] = mapped_column(String(36), index=True)
    transfer_method: Mapped[str] = mapped_column(String(16))  # local_file | remote_url
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    extension: Mapped[str] = mapped_column(String(16))
    mime_type: Mapped[str] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(36), index=True, nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ProactiveEventRow(Base):
    """An event of a visitor that met a proactive rule's conditions (kefu.services.proactive):
    counted for the rule's ``min_count`` within its window. Events no rule wants are not kept."""

    __tablename__ = "proactive_events"
    __table_args__ = (
        Index("ix_proactive_events_user_rule_at", "app_id", "end_user_id", "rule", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    end_user_id: Mapped[str] = mapped_column(String(36))
    rule: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(512))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ProactiveOfferRow(Base):
    """An offer of help made to a visitor, and what they did with it."""

    __tablename__ = "proactive_offers"
    __table_args__ = (Index("ix_proactive_offers_app_created", "app_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    end_user_id: Mapped[str] = mapped_column(String(36), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(String(36))
    via: Mapped[str] = mapped_column(String(64))  # web | api | channel:<name>
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # shown | accepted | dismissed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProactiveSlotRow(Base):
    """When a rule last offered help to a visitor, and how often in all: the one row a
    conditional update claims, so two requests at once never both offer within a cool-down."""

    __tablename__ = "proactive_slots"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    end_user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_offered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    offered_count: Mapped[int] = mapped_column(Integer)


class ProactiveOptOutRow(Base):
    """A visitor who asked never to be offered help unprompted."""

    __tablename__ = "proactive_opt_outs"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    end_user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
