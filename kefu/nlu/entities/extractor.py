"""One pass over a message for every entity type, with overlaps resolved."""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Sequence

from kefu.nlu.entities._text import fold_width
from kefu.nlu.entities._types import Entity
from kefu.nlu.entities.amounts import find_amounts
from kefu.nlu.entities.dates import find_dates
from kefu.nlu.entities.identifiers import compile_order_ids, find_contacts, find_order_ids

__all__ = ["ENTITY_TYPES", "EntityExtractor"]

ENTITY_TYPES = ("order_id", "email", "phone", "zip", "date", "amount")
# Where two candidates overlap, the longer wins; at equal length the more specific (earlier
# here) does: "订单号13812345678" is an order id, not a phone.
_RANK = {kind: rank for rank, kind in enumerate(ENTITY_TYPES)}
_DIGIT = re.compile(r"[0-9]")


class EntityExtractor:
    """Finds order ids, phones, e-mails, postcodes, dates and amounts in a message.

    Built once per app (the order-id patterns are compiled here) and cheap per message: each
    extractor runs only when a character it needs occurs (a digit, '@', a currency sign, a
    date word).
    """

    def __init__(
        self,
        *,
        order_id_patterns: Sequence[str] = (),
        types: Collection[str] | None = None,
    ) -> None:
        """``order_id_patterns``: the app's order-id regexes (defaults documented in
        :mod:`kefu.nlu.entities.identifiers`). ``types``: only these entity types (default all).
        """
        unknown = set(types or ()) - set(ENTITY_TYPES)
        if unknown:
            raise ValueError(f"unknown entity types: {sorted(unknown)}")
        self._types = frozenset(ENTITY_TYPES if types is None else types)
        self._order_ids = compile_order_ids(order_id_patterns)
        self._order_cues = not order_id_patterns

    def extract(self, text: str, *, today: datetime.date | None = None) -> list[Entity]:
        """Entities in ``text``, sorted by start, never overlapping (the longest wins)."""
        if not text:
            return []
        folded = fold_width(text)
        types = self._types
        found: list[tuple[str, int, int, object]] = []
        has_digit = _DIGIT.search(folded) is not None
        if "order_id" in types:
            found += [
                ("order_id", start, end, value)
                for start, end, value in find_order_ids(
                    folded, self._order_ids, use_cues=self._order_cues and has_digit
                )
            ]
        found += [c for c in find_contacts(folded, has_digit) if c[0] in types]
        if "date" in types:
            day = today or datetime.date.today()
            found += [("date", start, end, value) for start, end, value in find_dates(folded, day)]
        if "amount" in types:
            found += [("amount", start, end, value) for start, end, value in find_amounts(folded)]
        if not found:
            return []
        found.sort(key=lambda c: (c[1] - c[2], _RANK[c[0]], c[1]))
        taken: list[tuple[str, int, int, object]] = []
        for candidate in found:
            _, start, end, _ = candidate
            if all(end <= other[1] or start >= other[2] for other in taken):
                taken.append(candidate)
        taken.sort(key=lambda c: c[1])
        return [
            Entity(kind, text[start:end], start, end, value) for kind, start, end, value in taken
        ]
