"""Stage 5, route: what answers this message.

Cheapest first: a flow in progress takes the message when it answers it; else an
annotation (an operator's curated answer, once annotation reply is on); else a
near-verbatim FAQ answer; else a recognised flow intent starts its flow; else an FAQ answer,
a document passage, or the fallback. A customer who says the flow took them wrong ("不是，
我问的是…") leaves it and gets the answer to what they meant. A customer who asks for a
human is handed over, and the app's hand-over rules (sentiment, unanswered streaks,
intents, amounts) apply last.
Knowledge comes from :mod:`kefu.engine.retrieval`.
"""

from __future__ import annotations

from typing import Any

from kefu.core.types import FaqHit
from kefu.engine.context import DIRECT, GUARDED, TurnContext
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.dialog.flows import TurnFacts
from kefu.engine.handoff_policy import apply_handoff_policy
from kefu.engine.retrieval import asks_for_human, lookup_knowledge, retrieve
from kefu.nlu.dialog_acts import detect_act, is_correction, picked_option

__all__ = ["run"]

STICKY_LANGUAGE_WORDS = 3  # a shorter message without Chinese keeps the conversation's language


async def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    """Flows and hand-over first (they depend on the conversation), then knowledge."""
    await retrieve(ctx)  # an embedder or reranker, awaited under the query deadline
    if ctx.route in GUARDED:
        record["route"] = ctx.route
        return
    state = ctx.dialog
    _keep_conversation_language(ctx, state)
    book = ctx.app.flows
    understood = ctx.understood
    intent = understood.intent.label if understood and understood.intent else None
    facts = TurnFacts(
        text=ctx.query,
        entities=understood.entities if understood else (),
        intent=intent,
        act=understood.act if understood else detect_act(ctx.query),
    )
    step = None
    if asks_for_human(ctx):
        state.suspend_active()
        ctx.route = "handoff"
        ctx.answer = ctx.app.config.replies.handoff.get(ctx.language)
    else:
        if state.active is not None:
            step = book.continue_active(state, facts, ctx.language)
            if step is None and is_correction(ctx.query):
                # "不是，我问的是…": the flow started by mistake. Leave it, answer what they meant.
                record["flow_left"] = {"flow": state.active.flow, "reason": "correction"}
                state.active = None
        chosen = _chosen(ctx, state) if step is None else None
        state.choices = []
        if chosen is not None:  # the answer to the clarifying question asked last turn
            ctx.route, ctx.faq_hits, ctx.passages = "faq", [chosen], []
            record["chose"] = chosen.entry.id
        elif step is None:
            lookup_knowledge(ctx, record)
            if ctx.route == "clarify":
                state.choices = [hit.entry.id for hit in ctx.faq_hits]
            # A confident flow intent outranks an FAQ match: the classifier learnt the FAQ's
            # questions as out of scope, so "我的订单还没发货，能查一下吗" that it still calls
            # order.status wants the order looked up, not the shipping-time FAQ.
            flow = book.for_intent(intent)
            if ctx.route == "annotation":  # curated by an operator: outranks a flow intent
                flow = None
            if flow is not None and (state.active is None or state.active.flow != flow.name):
                step = book.start(state, flow, facts, ctx.language)
            elif state.active is not None:
                if ctx.route in (*DIRECT, "clarify"):  # on the side: answer, then remind
                    ctx.reminder = book.pending_question(state, ctx.language)
                else:
                    step = book.reask(state, ctx.language)
    if step is not None:
        ctx.flow_step = step
        ctx.route = "handoff" if step.kind == "handoff" else "flow"
        ctx.answer = step.reply
        ctx.faq_hits, ctx.passages = [], []
        record["flow"] = step.record()
        if step.kind in ("cancelled", "declined"):
            resumed = book.finish(state, ctx.language)
            if resumed:
                ctx.answer = f"{ctx.answer}\n\n{resumed}"
    _remember(ctx, state, intent)
    apply_handoff_policy(ctx, record)
    record["route"] = ctx.route


def _keep_conversation_language(ctx: TurnContext, state: DialogState) -> None:
    """ "#W2378156" or "ok" in a Chinese conversation is answered in Chinese, and
    "13900005678" (no letters at all) in whatever language the conversation speaks."""
    if state.language is None or state.language == ctx.language:
        return
    wordless = not any(ch.isalpha() for ch in ctx.query)
    if wordless or (ctx.language == "en" and len(ctx.query.split()) < STICKY_LANGUAGE_WORDS):
        ctx.language = state.language  # type: ignore[assignment]


def _remember(ctx: TurnContext, state: DialogState, intent: str | None) -> None:
    """Streaks the hand-over policy reads: negative messages, unanswered questions."""
    state.language = ctx.language
    understood = ctx.understood
    negative = understood is not None and understood.sentiment.label == "negative"
    state.negative_streak = state.negative_streak + 1 if negative else 0
    state.unanswered_streak = state.unanswered_streak + 1 if ctx.route == "fallback" else 0
    if intent is not None:
        state.last_intent = intent


def _chosen(ctx: TurnContext, state: DialogState) -> FaqHit | None:
    """The FAQ entry the customer picked from the options of a clarifying question ("1",
    "第二个", "the first one", or the option's question itself)."""
    if not state.choices:
        return None
    entries = {entry.id: entry for entry in ctx.app.index.faq_entries}
    options = [entries[c] for c in state.choices if c in entries]
    index = picked_option(ctx.query, [entry.question for entry in options])
    if index is None:
        return None
    return FaqHit(options[index], score=1.0, relevance=1.0, matched=options[index].question)
