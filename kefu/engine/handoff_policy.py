"""When the bot hands over, decided inside the turn.

The route stage already hands over on an explicit request (转人工) and when a flow gives up
asking; :func:`apply_handoff_policy`, called at its end, adds the app's triggers — negative
or unanswered streaks, rules on intent and amount, and escalations (legal threats, safety,
fraud, complaints: :mod:`kefu.nlu.escalation`). :func:`settle_handoff`, called by the
act stage once the flow's tool has run (a tool marked ``handoff_on_failure`` hands over
too), names the reason and, outside business hours, turns the hand-over into a ticket with
a reply saying so.
(Conversations a human owns never get here: :mod:`kefu.engine.stages.handoff_gate`.)
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from kefu.appfile.handoff_config import BusinessHours, HandoffConfig, HandoffRule
from kefu.core.handoff_records import ticket_reference
from kefu.core.ids import new_id
from kefu.engine.context import TurnContext
from kefu.nlu.entities import Entity

__all__ = ["apply_handoff_policy", "settle_handoff"]

_GUARDED = ("blocked", "refused")


def apply_handoff_policy(ctx: TurnContext, record: dict[str, Any]) -> None:
    """The end of the route stage: the app's own triggers, on top of the explicit ones."""
    policy = ctx.app.config.handoff
    if ctx.route in _GUARDED or ctx.route == "handoff" or not policy.enabled:
        return
    reason = _triggered(ctx, policy)
    if reason is None:
        return
    ctx.dialog.suspend_active()  # the agent sees its slots in the note; it resumes later
    ctx.route = "handoff"
    ctx.handoff_reason = reason
    ctx.answer = ctx.app.config.replies.handoff.get(ctx.language)
    ctx.faq_hits, ctx.passages, ctx.flow_step, ctx.reminder = [], [], None, None
    record["handoff"] = {"trigger": reason}


def settle_handoff(ctx: TurnContext, now: dt.datetime | None = None) -> None:
    """After routing and the flow's action: the reason, and business hours."""
    if ctx.route != "handoff":
        return
    policy = ctx.app.config.handoff
    replies = ctx.app.config.replies
    if not policy.enabled:
        ctx.route = "fallback"
        if ctx.answer == replies.handoff.get(ctx.language):
            ctx.answer = replies.fallback.get(ctx.language)
        ctx.trace.facts["handoff"] = {"disabled": True}
        return
    if ctx.handoff_reason is None:
        step = ctx.flow_step
        if step is not None and step.kind == "act":
            ctx.handoff_reason = "tool_failed"
        elif step is not None and step.kind == "handoff":
            ctx.handoff_reason = "flow_failed"
        else:
            ctx.handoff_reason = "customer_request"
    facts: dict[str, Any] = {"reason": ctx.handoff_reason}
    hours = policy.business_hours
    if hours is not None and not hours.is_open(now or dt.datetime.now(dt.UTC)):
        ctx.route = "ticket"
        ctx.ticket_id = new_id()
        ctx.answer = policy.replies.after_hours.get(ctx.language).format(
            hours=describe_hours(hours), ticket=ticket_reference(ctx.ticket_id)
        )
        facts["after_hours"] = True
    ctx.trace.facts["handoff"] = facts
    ctx.trace.facts["route"] = ctx.route


def describe_hours(hours: BusinessHours) -> str:
    return f"{hours.open:%H:%M}–{hours.close:%H:%M}"


def _triggered(ctx: TurnContext, policy: HandoffConfig) -> str | None:
    state = ctx.dialog
    for rule in policy.rules:
        if _rule_matches(ctx, rule):
            return rule.reason
    understood = ctx.understood
    if policy.escalate and understood is not None and understood.escalation is not None:
        return understood.escalation  # legal_threat, safety, fraud or complaint
    if policy.negative_streak and state.negative_streak >= policy.negative_streak:
        state.negative_streak = 0
        return "negative_sentiment"
    if policy.unanswered_streak and state.unanswered_streak >= policy.unanswered_streak:
        state.unanswered_streak = 0
        return "unanswered"
    return None


def _rule_matches(ctx: TurnContext, rule: HandoffRule) -> bool:
    if rule.intent is not None:
        # This message's intent, or the one the conversation is about ("600元" in a refund flow).
        understood = ctx.understood
        labels = {understood.intent.label if understood and understood.intent else None}
        labels.add(ctx.dialog.last_intent)
        if not any(
            label == rule.intent or label.startswith(rule.intent + ".")
            for label in labels
            if label is not None
        ):
            return False
    if rule.amount_above is not None:
        amounts = _amounts(ctx)
        if not amounts or max(amounts) <= rule.amount_above:
            return False
    return True


def _amounts(ctx: TurnContext) -> list[Decimal]:
    """Sums of money in the message and in the slots of the flow in progress."""
    found: list[Decimal] = []
    entities: list[Entity] = list(ctx.understood.entities) if ctx.understood else []
    for entity in entities:
        if entity.type == "amount":
            value = _decimal(getattr(entity.value, "amount", None))
            if value is not None:
                found.append(value)
    frame = ctx.dialog.active
    for slot in frame.slots.values() if frame else ():
        value = _decimal(slot.get("amount") if isinstance(slot, dict) else None)
        if value is not None:
            found.append(value)
    return found


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
