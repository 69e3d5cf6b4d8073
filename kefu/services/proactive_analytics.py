"""Proactive offers in service analytics: per rule, how many were shown, accepted and
dismissed in the window, and the acceptance rate (accepted / shown; docs/analytics.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kefu.core.proactive_records import OfferFact

__all__ = ["OfferFigures", "ProactiveFigures", "offer_figures"]


@dataclass(slots=True)
class OfferFigures:
    """One rule's offers (or all rules', for the total): counted by the day they were made."""

    rule: str
    shown: int = 0  # every offer made, whatever became of it
    accepted: int = 0
    dismissed: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.shown if self.shown else None

    def as_json(self) -> dict[str, object]:
        rate = self.acceptance_rate
        return {
            "rule": self.rule,
            "shown": self.shown,
            "accepted": self.accepted,
            "dismissed": self.dismissed,
            "acceptance_rate": None if rate is None else round(rate, 4),
        }


@dataclass(slots=True)
class ProactiveFigures:
    total: OfferFigures
    rules: list[OfferFigures]

    def as_json(self) -> dict[str, object]:
        return {"total": self.total.as_json(), "rules": [rule.as_json() for rule in self.rules]}


def offer_figures(offers: Iterable[OfferFact]) -> ProactiveFigures:
    """The figures of the offers made in the window, rules with most offers first."""
    total = OfferFigures("total")
    rules: dict[str, OfferFigures] = {}
    for offer in offers:
        rule = rules.setdefault(offer.rule, OfferFigures(offer.rule))
        for figures in (total, rule):
            figures.shown += 1
            figures.accepted += offer.status == "accepted"
            figures.dismissed += offer.status == "dismissed"
    return ProactiveFigures(total, sorted(rules.values(), key=lambda r: (-r.shown, r.rule)))
