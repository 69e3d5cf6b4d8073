"""Proactive service: a customer's events (a page view, a cart, a paid order, a custom one)
against the app's rules, and the offers of help that fire (docs/proactive.md).

An event goes: its properties checked → the rules for its name → each rule's conditions →
the visitor's matching events within the rule's window counted (kept in the store, so
replicas agree) → no offer after an opt-out, in quiet hours, or while a human has the
visitor's conversation → the rule's cool-down and cap claimed atomically in the store → the
offer recorded as shown. A caller with a channel conversation has it delivered there.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from anyio import to_thread

from kefu.appfile.proactive_config import ProactiveRule
from kefu.core.errors import Conflict, NotFound
from kefu.core.ids import end_user_id, is_id, new_id, utcnow
from kefu.core.localized import LocalizedText
from kefu.core.proactive_records import OfferRecord, OfferStatus
from kefu.core.types import Language
from kefu.observability import metrics
from kefu.services.proactive_rules import check_properties, event_path, matches
from kefu.services.registry import AppRuntime
from kefu.services.validation import clean_user
from kefu.store import Store

__all__ = ["Deliver", "Offer", "ProactiveEvent", "ProactiveService"]

# (conversation id, text, offer id) → whether the customer's channel took it.
Deliver = Callable[[str, str, str], Awaitable[bool]]
# Matching events are counted over a rule's window (at most 7 days): older ones go, at most
# once an hour.
KEEP_EVENTS = timedelta(days=8)
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class ProactiveEvent:
    """What a page, a backend or a channel reports a customer did."""

    name: str
    properties: dict[str, Any]
    conversation_id: str | None = None
    language: Language | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer that fired: the stored record, and what it says."""

    record: OfferRecord
    message: str
    localized: LocalizedText
    delivered: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.record.id,
            "rule": self.record.rule,
            "message": self.message,
            "localized": self.localized.model_dump(),
            "conversation_id": self.record.conversation_id,
            "created_at": int(self.record.created_at.timestamp()),
        }


class ProactiveService:
    """One per process; SQL runs in a worker thread."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._repo = store.proactive
        self._conversations = store.conversations
        self._clock = clock
        self._pruned_at = 0.0

    async def handle(
        self,
        app: AppRuntime,
        user: str,
        event: ProactiveEvent,
        *,
        via: str,
        deliver: Deliver | None = None,
    ) -> list[Offer]:
        """The offers ``event`` fires for ``user`` (often none). ``via``: who reported it
        (``web``, ``api``); ``deliver``: sends an offer to the customer's channel
        conversation, when they have one (the offer is then marked delivered)."""
        properties = check_properties(event.properties)
        user = clean_user(user)
        visitor = end_user_id(app.id, user)
        if event.conversation_id is not None:
            await self._own_conversation(app, visitor, event.conversation_id)
        proactive = app.config.proactive
        rules = [r for r in proactive.rules_for(event.name) if matches(r, event.name, properties)]
        if not rules:
            return []
        offers = await to_thread.run_sync(self._fire, app, visitor, event, rules, via, properties)
        if deliver is not None and offers:
            offers = await self._deliver(app, visitor, event, offers, deliver)
        return offers

    def _fire(
        self,
        app: AppRuntime,
        visitor: str,
        event: ProactiveEvent,
        rules: list[ProactiveRule],
        via: str,
        properties: dict[str, Any],
    ) -> list[Offer]:
        self._prune()
        repo, now = self._repo, self._clock()
        if repo.opted_out(app.id, visitor):
            return []  # nothing is counted for a visitor who never wants offers
        language: Language = event.language or app.config.language
        path = event_path(properties)
        offers: list[Offer] = []
        with_a_human: bool | None = None
        for rule in rules:
            if rule.conditions.min_count > 1:  # only counted rules keep their events
                window = timedelta(seconds=rule.conditions.window_s)
                count = repo.record_match(
                    new_id(), app.id, visitor, rule.name, event.name, path, now, now - window
                )
                if count < rule.conditions.min_count:
                    continue
            quiet = app.config.proactive.quiet_hours_of(rule)
            if quiet is not None and quiet.contains(now):
                continue
            if with_a_human is None:
                with_a_human = repo.with_a_human(app.id, visitor)
            if with_a_human:
                continue  # the agent talks to them; the bot does not interrupt
            record = OfferRecord(
                id=new_id(),
                app_id=app.id,
                end_user_id=visitor,
                rule=rule.name,
                event=event.name,
                conversation_id=event.conversation_id,
                via=via,
                language=language,
                status="shown",
                created_at=now,
            )
            if repo.offer(record, cooldown_s=rule.cooldown_s, max_count=rule.max_per_visitor):
                metrics.proactive_offer(app.name, rule.name, "shown")
                offers.append(Offer(record, rule.message.get(language), rule.message))
        return offers

    async def _deliver(
        self,
        app: AppRuntime,
        visitor: str,
        event: ProactiveEvent,
        offers: list[Offer],
        deliver: Deliver,
    ) -> list[Offer]:
        conversation_id = event.conversation_id or await to_thread.run_sync(
            self._repo.latest_conversation, app.id, visitor
        )
        if conversation_id is None:
            return offers
        sent: list[Offer] = []
        for offer in offers:
            if await deliver(conversation_id, offer.message, offer.record.id):
                record = replace(offer.record, via="channel", conversation_id=conversation_id)
                await to_thread.run_sync(self._repo.delivered, record.id, conversation_id)
                offer = replace(offer, record=record, delivered=True)
                metrics.proactive_offer(app.name, record.rule, "delivered")
            sent.append(offer)
        return sent

    async def respond(
        self, app: AppRuntime, user: str, offer_id: str, status: OfferStatus
    ) -> tuple[OfferRecord, LocalizedText | None]:
        """The visitor accepted or dismissed an offer; answering the same way twice is
        harmless, the other way after the first is a conflict. Another visitor's offer is
        as unknown as a missing one."""
        visitor = end_user_id(app.id, clean_user(user))
        if not is_id(offer_id):
            raise NotFound("no such offer")
        record, answered = await to_thread.run_sync(
            self._repo.respond, app.id, visitor, offer_id, status, self._clock()
        )
        if answered and record is not None:
            metrics.proactive_offer(app.name, record.rule, status)
        if record is None:
            raise NotFound("no such offer")
        if record.status != status:
            raise Conflict(f"the offer was already {record.status}")
        rule = app.config.proactive.rule(record.rule)
        return record, rule.message if rule is not None else None

    async def set_opt_out(self, app: AppRuntime, user: str, opted_out: bool) -> None:
        """The visitor never wants offers again (or, ``opted_out=False``, wants them back)."""
        visitor = end_user_id(app.id, clean_user(user))
        await to_thread.run_sync(self._repo.set_opt_out, app.id, visitor, opted_out, self._clock())

    async def opted_out(self, app: AppRuntime, user: str) -> bool:
        visitor = end_user_id(app.id, clean_user(user))
        return await to_thread.run_sync(self._repo.opted_out, app.id, visitor)

    async def _own_conversation(self, app: AppRuntime, visitor: str, conversation_id: str) -> None:
        found = None
        if is_id(conversation_id):
            found = await to_thread.run_sync(
                self._conversations.get, app.id, visitor, conversation_id
            )
        if found is None:
            raise NotFound("Conversation Not Exists.")

    def _prune(self) -> None:
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            self._repo.forget_events_before(self._clock() - KEEP_EVENTS)
