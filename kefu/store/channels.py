"""What channels remember: platform messages taken in, customers' conversations, cursors."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.channel_records import ChannelLink
from kefu.core.ids import utcnow
from kefu.store.models import ChannelCursorRow, ChannelDeliveryRow, ChannelLinkRow

__all__ = ["ChannelRepository"]


class ChannelRepository:
    """Durable channel state, so a restart or a second replica sees the same."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first_delivery(self, app_id: str, channel: str, message_id: str) -> bool:
        """Record ``message_id`` as taken in; False when it was already (a duplicate).

        The primary key decides, so two replicas racing on one delivery agree."""
        with Session(self._engine) as session:
            session.add(
                ChannelDeliveryRow(
                    app_id=app_id, channel=channel, message_id=message_id, received_at=utcnow()
                )
            )
            try:
                session.commit()
            except IntegrityError:
                return False
        return True

    def forget_delivery(self, app_id: str, channel: str, message_id: str) -> None:
        """Taking the message in failed: its redelivery is welcome."""
        with Session(self._engine) as session:
            session.execute(
                delete(ChannelDeliveryRow).where(
                    ChannelDeliveryRow.app_id == app_id,
                    ChannelDeliveryRow.channel == channel,
                    ChannelDeliveryRow.message_id == message_id,
                )
            )
            session.commit()

    def forget_deliveries_before(self, before: datetime) -> int:
        """Drop delivery records older than any platform retries (retention)."""
        with Session(self._engine) as session:
            result = session.execute(
                delete(ChannelDeliveryRow).where(ChannelDeliveryRow.received_at < before)
            )
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def link(self, link: ChannelLink) -> None:
        """Remember (or update) which conversation the customer is in; the last writer
        wins when two replicas link the same customer at once."""
        for _ in range(2):
            with Session(self._engine) as session:
                row = session.get(ChannelLinkRow, (link.app_id, link.channel, link.peer))
                if row is None:
                    row = ChannelLinkRow(app_id=link.app_id, channel=link.channel, peer=link.peer)
                    session.add(row)
                row.conversation_id = link.conversation_id
                row.address = dict(link.address)
                row.updated_at = utcnow()
                try:
                    session.commit()
                    return
                except IntegrityError:  # inserted meanwhile by another writer: update it
                    session.rollback()

    def by_peer(self, app_id: str, channel: str, peer: str) -> ChannelLink | None:
        with Session(self._engine) as session:
            row = session.get(ChannelLinkRow, (app_id, channel, peer))
            return _link(row) if row is not None else None

    def by_conversation(self, conversation_id: str) -> ChannelLink | None:
        """The channel customer of a conversation (None: it came through the API)."""
        with Session(self._engine) as session:
            row = session.scalars(
                select(ChannelLinkRow)
                .where(ChannelLinkRow.conversation_id == conversation_id)
                .order_by(ChannelLinkRow.updated_at.desc())
                .limit(1)
            ).first()
            return _link(row) if row is not None else None

    def cursor(self, app_id: str, channel: str) -> str:
        """Where reading stopped ("" before the first read)."""
        with Session(self._engine) as session:
            row = session.get(ChannelCursorRow, (app_id, channel))
            return row.cursor if row is not None else ""

    def save_cursor(self, app_id: str, channel: str, cursor: str) -> None:
        with Session(self._engine) as session:
            row = session.get(ChannelCursorRow, (app_id, channel))
            if row is None:
                row = ChannelCursorRow(app_id=app_id, channel=channel)
                session.add(row)
            row.cursor = cursor
            row.updated_at = utcnow()
            session.commit()


def _link(row: ChannelLinkRow) -> ChannelLink:
    return ChannelLink(
        app_id=row.app_id,
        channel=row.channel,
        peer=row.peer,
        conversation_id=row.conversation_id,
        address=dict(row.address or {}),
    )
