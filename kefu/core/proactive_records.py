"""Records of the proactive service passed between the store, services and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["OFFER_STATUSES", "OfferFact", "OfferRecord", "OfferStatus"]

OfferStatus = Literal["shown", "accepted", "dismissed"]
OFFER_STATUSES: tuple[OfferStatus, ...] = ("shown", "accepted", "dismissed")


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """An offer of help made to one visitor (``end_user_id``) by one rule."""

    id: str
    app_id: str
    end_user_id: str
    rule: str
    event: str
    conversation_id: str | None
    via: str  # web | api | channel:<name>
    language: str
    status: OfferStatus
    created_at: datetime
    responded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OfferFact:
    """What analytics needs of an offer: its rule, what became of it, and when it was made."""

    rule: str
    status: OfferStatus
    created_at: datetime
