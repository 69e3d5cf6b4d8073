"""Typed entities in customer messages, Chinese and English: order ids, mainland mobile
numbers, e-mail addresses, postcodes, dates (absolute and relative) and sums of money.

Everything is a precompiled regular expression with hand-written resolution, chosen for
speed on the hot path (every message) and for exact, documented behaviour; see
:mod:`~kefu.nlu.entities.dates`, :mod:`~kefu.nlu.entities.amounts` and
:mod:`~kefu.nlu.entities.identifiers` for what each type accepts and how it is normalised.
"""

from __future__ import annotations

from kefu.nlu.entities._types import DateRange, Entity, Money
from kefu.nlu.entities.extractor import ENTITY_TYPES, EntityExtractor
from kefu.nlu.entities.identifiers import DEFAULT_ORDER_ID_PATTERN

__all__ = [
    "DEFAULT_ORDER_ID_PATTERN",
    "ENTITY_TYPES",
    "DateRange",
    "Entity",
    "EntityExtractor",
    "Money",
]
