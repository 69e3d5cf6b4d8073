"""The typed values an entity carries: a found span, a date range and a sum of money."""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass

__all__ = ["DateRange", "Entity", "Money"]


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of days: "上个月" is the whole month, "last week" Monday to Sunday."""

    start: datetime.date
    end: datetime.date


@dataclass(frozen=True, slots=True)
class Money:
    """A sum in one currency; ``currency`` is an ISO 4217 code (CNY, USD, EUR, HKD …)."""

    amount: decimal.Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Entity:
    """A typed value found in a message; ``text == message[start:end]`` as the customer wrote it.

    ``value`` is normalised: ``str`` for order_id, phone, email and zip, ``datetime.date`` or
    :class:`DateRange` for dates, :class:`Money` for amounts.
    """

    type: str
    text: str
    start: int
    end: int
    value: object
