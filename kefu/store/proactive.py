"""What the proactive service keeps: events that met a rule (for "the 2nd visit" counts),
the offers made and what became of them, each rule's cool-down per visitor, opt-outs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.proactive_records import OFFER_STATUSES, OfferFact, OfferRecord, OfferStatus
from kefu.store.db import as_utc
from kefu.store.models import (
    ConversationRow,
    ProactiveEventRow,
    ProactiveOfferRow,
    ProactiveOptOutRow,
    ProactiveSlotRow,
)

__all__ = ["ProactiveRepository"]

_WITH_A_HUMAN = ("pending_human", "human")


class ProactiveRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- counting events --------------------------------------------------------------------

    def record_match(
        self,
        event_id: str,
        app_id: str,
        end_user_id: str,
        rule: str,
        event: str,
        path: str | None,
        at: datetime,
        since: datetime,
    ) -> int:
        """Keep an event that met ``rule``'s conditions; how many such events the visitor
        has sent since ``since``, this one included."""
        with Session(self._engine) as session:
            session.add(
                ProactiveEventRow(
                    id=event_id,
                    app_id=app_id,
                    end_user_id=end_user_id,
                    rule=rule,
                    event=event,
                    path=path[:512] if path else None,
                    at=at,
                )
            )
            session.flush()
            count = session.scalar(
                select(func.count())
                .select_from(ProactiveEventRow)
                .where(
                    ProactiveEventRow.app_id == app_id,
                    ProactiveEventRow.end_user_id == end_user_id,
                    ProactiveEventRow.rule == rule,
                    ProactiveEventRow.at >= since,
                )
            )
            session.commit()
        return int(count or 0)

    def forget_events_before(self, before: datetime) -> int:
        with Session(self._engine) as session:
            result = session.execute(delete(ProactiveEventRow).where(ProactiveEventRow.at < before))
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    # --- offers -----------------------------------------------------------------------------

    def offer(self, offer: OfferRecord, *, cooldown_s: int, max_count: int | None) -> bool:
        """Record ``offer`` if its rule may offer the visitor help now: none within
        ``cooldown_s`` before, fewer than ``max_count`` in all. False when it may not.

        The claim is one conditional UPDATE of the (app, visitor, rule) row, or the INSERT
        of that row: the database decides between requests at once (PostgreSQL re-checks the
        condition on the row the first writer committed; SQLite serialises writers)."""
        now = offer.created_at
        key = (offer.app_id, offer.end_user_id, offer.rule)
        for _ in range(2):
            with Session(self._engine) as session:
                condition = [
                    ProactiveSlotRow.app_id == offer.app_id,
                    ProactiveSlotRow.end_user_id == offer.end_user_id,
                    ProactiveSlotRow.rule == offer.rule,
                    ProactiveSlotRow.last_offered_at <= now - timedelta(seconds=cooldown_s),
                ]
                if max_count is not None:
                    condition.append(ProactiveSlotRow.offered_count < max_count)
                claimed = session.execute(
                    update(ProactiveSlotRow)
                    .where(*condition)
                    .values(last_offered_at=now, offered_count=ProactiveSlotRow.offered_count + 1)
                    .execution_options(synchronize_session=False)
                )
                if not getattr(claimed, "rowcount", 0):
                    if session.get(ProactiveSlotRow, key) is not None:
                        return False  # offered within the cool-down, or as often as allowed
                    session.add(
                        ProactiveSlotRow(
                            app_id=offer.app_id,
                            end_user_id=offer.end_user_id,
                            rule=offer.rule,
                            last_offered_at=now,
                            offered_count=1,
                        )
                    )
                session.add(_offer_row(offer))
                try:
                    session.commit()
                    return True
                except IntegrityError:  # another request inserted the slot first: ask again
                    session.rollback()
        return False

    def delivered(self, offer_id: str, conversation_id: str) -> None:
        """The offer went out on the customer's channel conversation."""
        with Session(self._engine) as session:
            session.execute(
                update(ProactiveOfferRow)
                .where(ProactiveOfferRow.id == offer_id)
                .values(via="channel", conversation_id=conversation_id)
                .execution_options(synchronize_session=False)
            )
            session.commit()

    def get_offer(self, app_id: str, end_user_id: str, offer_id: str) -> OfferRecord | None:
        with Session(self._engine) as session:
            row = session.get(ProactiveOfferRow, offer_id)
            if row is None or row.app_id != app_id or row.end_user_id != end_user_id:
                return None
            return _offer(row)

    def respond(
        self, app_id: str, end_user_id: str, offer_id: str, status: OfferStatus, at: datetime
    ) -> tuple[OfferRecord | None, bool]:
        """Mark a shown offer accepted or dismissed (once: a later answer leaves it as it
        is). The offer as it stands (None when the visitor has no such offer) and whether
        this call answered it."""
        with Session(self._engine) as session:
            result = session.execute(
                update(ProactiveOfferRow)
                .where(
                    ProactiveOfferRow.id == offer_id,
                    ProactiveOfferRow.app_id == app_id,
                    ProactiveOfferRow.end_user_id == end_user_id,
                    ProactiveOfferRow.status == "shown",
                )
                .values(status=status, responded_at=at)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        answered = bool(getattr(result, "rowcount", 0))
        return self.get_offer(app_id, end_user_id, offer_id), answered

    def offers_between(self, app_id: str, since: datetime, until: datetime) -> list[OfferFact]:
        """The offers made in ``[since, until)``, for analytics."""
        with Session(self._engine) as session:
            rows = session.execute(
                select(
                    ProactiveOfferRow.rule, ProactiveOfferRow.status, ProactiveOfferRow.created_at
                ).where(
                    ProactiveOfferRow.app_id == app_id,
                    ProactiveOfferRow.created_at >= since,
                    ProactiveOfferRow.created_at < until,
                )
            ).all()
        return [
            OfferFact(rule, _status(status), as_utc(created_at))
            for rule, status, created_at in rows
        ]

    def forget_offers_before(self, app_id: str, before: datetime) -> int:
        """Retention: the app's offers made before ``before`` (opt-outs are kept: a wish)."""
        with Session(self._engine) as session:
            result = session.execute(
                delete(ProactiveOfferRow).where(
                    ProactiveOfferRow.app_id == app_id, ProactiveOfferRow.created_at < before
                )
            )
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    # --- opt-outs and the visitor's state ---------------------------------------------------

    def opted_out(self, app_id: str, end_user_id: str) -> bool:
        with Session(self._engine) as session:
            return session.get(ProactiveOptOutRow, (app_id, end_user_id)) is not None

    def set_opt_out(self, app_id: str, end_user_id: str, opted_out: bool, at: datetime) -> None:
        """Opt the visitor out (or back in); saying it twice is harmless."""
        with Session(self._engine) as session:
            if not opted_out:
                session.execute(
                    delete(ProactiveOptOutRow).where(
                        ProactiveOptOutRow.app_id == app_id,
                        ProactiveOptOutRow.end_user_id == end_user_id,
                    )
                )
                session.commit()
                return
            if session.get(ProactiveOptOutRow, (app_id, end_user_id)) is not None:
                return
            session.add(ProactiveOptOutRow(app_id=app_id, end_user_id=end_user_id, created_at=at))
            try:
                session.commit()
            except IntegrityError:  # opted out by a request at the same moment
                session.rollback()

    def with_a_human(self, app_id: str, end_user_id: str) -> bool:
        """Whether one of the visitor's conversations is with (or waiting for) an agent."""
        with Session(self._engine) as session:
            found = session.scalar(
                select(ConversationRow.id)
                .where(
                    ConversationRow.app_id == app_id,
                    ConversationRow.end_user_id == end_user_id,
                    ConversationRow.deleted_at.is_(None),
                    ConversationRow.handoff_state.in_(_WITH_A_HUMAN),
                )
                .limit(1)
            )
            return found is not None

    def latest_conversation(self, app_id: str, end_user_id: str) -> str | None:
        """The visitor's most recently active conversation, if any."""
        with Session(self._engine) as session:
            return session.scalar(
                select(ConversationRow.id)
                .where(
                    ConversationRow.app_id == app_id,
                    ConversationRow.end_user_id == end_user_id,
                    ConversationRow.deleted_at.is_(None),
                )
                .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
                .limit(1)
            )


def _offer_row(offer: OfferRecord) -> ProactiveOfferRow:
    return ProactiveOfferRow(
        id=offer.id,
        app_id=offer.app_id,
        end_user_id=offer.end_user_id,
        rule=offer.rule,
        event=offer.event,
        conversation_id=offer.conversation_id,
        via=offer.via,
        language=offer.language,
        status=offer.status,
        created_at=offer.created_at,
        responded_at=offer.responded_at,
    )


def _status(value: str) -> OfferStatus:
    return next((status for status in OFFER_STATUSES if status == value), "shown")


def _offer(row: ProactiveOfferRow) -> OfferRecord:
    status = _status(row.status)
    return OfferRecord(
        id=row.id,
        app_id=row.app_id,
        end_user_id=row.end_user_id,
        rule=row.rule,
        event=row.event,
        conversation_id=row.conversation_id,
        via=row.via,
        language=row.language,
        status=status,
        created_at=as_utc(row.created_at),
        responded_at=as_utc(row.responded_at) if row.responded_at else None,
    )
