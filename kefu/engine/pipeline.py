"""The turn pipeline: input guard → understand → (retrieve) → route → answer.

Routing is cheapest first: a flow in progress takes the message when it answers it; else an
annotation (an operator's curated answer, once annotation reply is on); else a near-verbatim
FAQ answer; else a recognised flow intent starts its flow; else an FAQ answer, a document
passage, or the fallback. A customer who asks for a human is handed over.

Each stage is a small function over a :class:`TurnContext`, timed into the turn's trace.
With an LLM, the chat service rewrites a follow-up between ``understand`` and ``route``
(:func:`start_pipeline` / :func:`finish_pipeline`). For an app whose retrieval calls models
(an embedder, a reranker) the chat service then awaits :func:`retrieve`, which looks the
question up with those calls bounded by a deadline and degrading to lexical retrieval, so
``route`` (synchronous) only applies its decision. A question without a direct FAQ
answer but with sources is routed to ``generate``: the model answers from the numbered
sources, and the extractive answer stays ready in case every model fails. Generating and
persisting are the caller's (:mod:`kefu.services.chat`), because they are async and must
finish even when the client goes away mid-stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from kefu.core.types import ChunkHit, FaqHit, Language
from kefu.engine.app import AppRuntime
from kefu.engine.dialog.dialog_state import DialogState
from kefu.engine.dialog.flows import FlowStep, TurnFacts
from kefu.engine.guards import judge_answer, judge_input
from kefu.engine.handoff_policy import apply_handoff_policy
from kefu.engine.route_cache import RouteDecision
from kefu.engine.trace import Trace
from kefu.engine.understanding import Understood
from kefu.knowledge import Degraded, QueryVector, detect_language
from kefu.nlu.dialog_acts import detect_act, wants_human
from kefu.safety import guard_input
from kefu.safety.pii import mask_pii

__all__ = [
    "Route",
    "TurnContext",
    "finish_pipeline",
    "refuse",
    "retrieve",
    "run_pipeline",
    "start_pipeline",
]

Route = Literal[
    "annotation",  # a curated annotation answered directly (kefu.engine.annotation_book)
    "faq", "passage", "fallback", "generate", "blocked", "refused", "flow", "handoff",
    "ticket",  # a hand-over outside business hours: a ticket instead
    "human",  # a human owns the conversation: no answer, the message waits for the agent
]  # fmt: skip
GUARDED: tuple[Route, ...] = ("blocked", "refused")  # answered by the input guard
DIRECT: tuple[Route, ...] = ("annotation", "faq")  # a curated answer, given as written
FAQ_CANDIDATES = 3
MAX_FAQ_SOURCES = 2  # FAQ entries below the direct-answer bar still ground a generated answer
STICKY_LANGUAGE_WORDS = 3  # a shorter message without Chinese keeps the conversation's language


@dataclass(slots=True)
class TurnContext:
    """Everything one turn knows, filled in stage by stage."""

    app: AppRuntime
    raw_query: str
    trace: Trace = field(default_factory=Trace)
    query: str = ""
    masked_query: str = ""  # the query with PII masked (traces, prompts, storage)
    language: Language = "zh"
    search_query: str = ""  # what retrieval uses: the query, or its rewrite with history
    route: Route = "fallback"
    faq_hits: list[FaqHit] = field(default_factory=list)
    passages: list[ChunkHit] = field(default_factory=list)
    answer: str = ""  # the extractive answer (kept as the fallback when a model generates)
    resources: list[dict[str, Any]] = field(default_factory=list)
    understood: Understood | None = None
    dialog: DialogState = field(default_factory=DialogState)
    flow_step: FlowStep | None = None
    reminder: str | None = None  # a flow's pending question, after answering something else
    handoff_reason: str | None = None  # why the route is "handoff" (kefu.engine.handoff_policy)
    ticket_id: str | None = None  # the ticket a hand-over outside business hours opens
    knowledge: RouteDecision | None = None  # looked up by ``retrieve`` (apps with models)


def input_guard(ctx: TurnContext, record: dict[str, Any]) -> None:
    """Clean-up and size, then what the customer may not say: a sensitive word gets the
    preset reply, an injection attempt a polite refusal, and no model sees either.
    PII is noted (masked) for the trace."""
    guarded = guard_input(ctx.raw_query, max_chars=ctx.app.config.limits.max_query_chars)
    ctx.query = ctx.search_query = guarded.text
    record.update(chars=len(guarded.text), removed_chars=guarded.removed_chars)
    app = ctx.app
    verdict = app.input_verdicts.get(ctx.query)
    if verdict is None:
        verdict = app.input_verdicts.put(
            ctx.query,
            judge_input(
                ctx.query, app.sensitive, block_injection=app.config.safety.block_injection
            ),
        )
    ctx.masked_query = verdict.masked
    record.update(verdict.facts)
    if verdict.route is not None:
        ctx.route = verdict.route


def understand(ctx: TurnContext, record: dict[str, Any]) -> None:
    """Language, then (for questions that got past the guard) intent, entities, sentiment."""
    has_letters = any(ch.isalpha() for ch in ctx.query)
    ctx.language = detect_language(ctx.query) if has_letters else ctx.app.config.language
    record["language"] = ctx.language
    if ctx.route in GUARDED or ctx.app.understanding is None:
        return
    ctx.understood = ctx.app.understanding.understand(ctx.query)
    record.update(ctx.understood.record(mask=ctx.app.config.safety.mask_pii_in_traces))


def route(ctx: TurnContext, record: dict[str, Any]) -> None:
    """Flows and hand-over first (they depend on the conversation), then knowledge."""
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
    if _asks_for_human(ctx):
        state.suspend_active()
        ctx.route = "handoff"
        ctx.answer = ctx.app.config.replies.handoff.get(ctx.language)
    else:
        if state.active is not None:
            step = book.continue_active(state, facts, ctx.language)
        if step is None:
            lookup_knowledge(ctx, record)
            # A confident flow intent outranks an FAQ match: the classifier learnt the FAQ's
            # questions as out of scope, so "我的订单还没发货，能查一下吗" that it still calls
            # order.status wants the order looked up, not the shipping-time FAQ.
            flow = book.for_intent(intent)
            if ctx.route == "annotation":  # curated by an operator: outranks a flow intent
                flow = None
            if flow is not None and (state.active is None or state.active.flow != flow.name):
                step = book.start(state, flow, facts, ctx.language)
            elif state.active is not None:
                if ctx.route in DIRECT:  # a question on the side: answer it, then remind
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


def _asks_for_human(ctx: TurnContext) -> bool:
    understood = ctx.understood
    return understood.wants_human if understood else wants_human(ctx.query)


async def retrieve(ctx: TurnContext) -> None:
    """Before ``route``, for an app whose retrieval calls models (an embedder, a reranker):
    the knowledge lookup with those calls awaited under the app's query deadline, so a slow
    or failing model server never holds the event loop. A failure degrades the turn (lexical
    retrieval, or passages in fused order), noted in this stage's ``degraded``; such a
    decision is not cached. Apps without models look knowledge up inside ``route``."""
    app = ctx.app
    if not app.index.calls_models or ctx.route in GUARDED or _asks_for_human(ctx):
        return  # nothing to await, or ``route`` will not look knowledge up
    with ctx.trace.stage("retrieve") as record:
        key = (ctx.search_query, ctx.language)
        cached = app.route_cache.get(key)
        if cached is not None:
            record["cache"] = "hit"
            ctx.knowledge = _with_cache_mark(cached, "hit")
            return
        record.update(cache="miss", deadline_s=app.index.query_deadline_s)
        decision, degraded = await look_up_knowledge(app, ctx.search_query)
        if degraded:
            record["degraded"] = [str(note) for note in degraded]
        else:
            app.route_cache.put(key, decision)
        ctx.knowledge = _with_cache_mark(decision, "miss")


def lookup_knowledge(ctx: TurnContext, record: dict[str, Any]) -> None:
    """A curated FAQ answer, else a document passage, else the fallback: what ``retrieve``
    decided, or (no models to await) decided here, cached per question."""
    decision = ctx.knowledge
    if decision is None:
        cache = ctx.app.route_cache
        key = (ctx.search_query, ctx.language)
        cached = cache.get(key)
        if cached is None:
            decision = _with_cache_mark(cache.put(key, decide_knowledge(ctx)), "miss")
        else:
            decision = _with_cache_mark(cached, "hit")
    ctx.route = decision.route  # type: ignore[assignment]
    ctx.faq_hits, ctx.passages = list(decision.faq_hits), list(decision.passages)
    record.update(decision.record)


def _with_cache_mark(decision: RouteDecision, cache: str) -> RouteDecision:
    return RouteDecision(
        decision.route, decision.faq_hits, decision.passages, {**decision.record, "cache": cache}
    )


def decide_knowledge(ctx: TurnContext) -> RouteDecision:
    """The knowledge decision, blocking on any model call (no ``retrieve`` stage ran)."""
    app, query = ctx.app, ctx.search_query
    record: dict[str, Any] = {}
    direct, faq_hits = decide_direct(app, query, record)
    if direct is not None:
        return direct
    hits = app.index.search(query, top_k=app.config.knowledge.top_k)
    return decide_passages(app, faq_hits, hits, record)


async def look_up_knowledge(app: AppRuntime, query: str) -> tuple[RouteDecision, list[Degraded]]:
    """The knowledge decision with the embedder and reranker awaited by one deadline, and
    what had to do without them."""
    index = app.index
    record: dict[str, Any] = {}
    deadline = index.query_deadline()
    vector = await index.query_vector(query, deadline=deadline)
    degraded = [vector.degraded] if vector.degraded else []
    direct, faq_hits = decide_direct(app, query, record, vector)
    if direct is not None:
        return direct, degraded
    found = await index.asearch(
        query, top_k=app.config.knowledge.top_k, vector=vector, deadline=deadline
    )
    if found.degraded:
        degraded.append(found.degraded)
    return decide_passages(app, faq_hits, found.hits, record), degraded


def decide_direct(
    app: AppRuntime, query: str, record: dict[str, Any], vector: QueryVector | None = None
) -> tuple[RouteDecision | None, list[FaqHit]]:
    """An annotation, else an FAQ entry above its threshold, answering directly (or None);
    and the FAQ candidates."""
    annotation = match_annotation(app, query, record, vector)
    if annotation is not None:
        record["route"] = "annotation"
        return RouteDecision("annotation", (annotation,), (), record), []
    knowledge = app.config.knowledge
    faq_hits = app.index.match_faq(query, top_k=FAQ_CANDIDATES, vector=vector)
    record["faq_candidates"] = [
        {
            "id": h.entry.id,
            "matched": h.matched,
            "score": round(h.score, 4),
            "relevance": round(h.relevance, 4),
        }
        for h in faq_hits
    ]
    record["faq_threshold"] = knowledge.faq_threshold
    if faq_hits and faq_hits[0].relevance >= knowledge.faq_threshold:
        record["route"] = "faq"
        return RouteDecision("faq", tuple(faq_hits), (), record), faq_hits
    return None, faq_hits


def match_annotation(
    app: AppRuntime, query: str, record: dict[str, Any], vector: QueryVector | None = None
) -> FaqHit | None:
    """Annotation reply: an annotation whose question matches well enough answers as is."""
    book = app.annotations
    if not book.active or book.index is None:
        return None
    # The app's embedder indexed the annotations too, so the turn's query vector fits.
    hits = book.index.match_faq(query, top_k=1, vector=vector)
    if not hits:
        return None
    hit, threshold = hits[0], book.settings.score_threshold
    record["annotation"] = {
        "id": hit.entry.id,
        "matched": hit.matched,
        "relevance": round(hit.relevance, 4),
        "threshold": threshold,
    }
    return hit if hit.relevance >= threshold else None


def decide_passages(
    app: AppRuntime, faq_hits: list[FaqHit], hits: list[ChunkHit], record: dict[str, Any]
) -> RouteDecision:
    """A passage above the passage threshold, else the fallback."""
    threshold = app.config.knowledge.passage_threshold
    record["passage_candidates"] = [
        {
            "chunk_id": h.chunk.id,
            "document": h.chunk.document_name,
            "heading": h.chunk.heading,
            "score": round(h.score, 4),
            "relevance": round(h.relevance, 4),
        }
        for h in hits
    ]
    record["passage_threshold"] = threshold
    passages = tuple(h for h in hits if h.relevance >= threshold)
    record["route"] = "passage" if passages else "fallback"
    return RouteDecision(record["route"], tuple(faq_hits), passages, record)


def answer_extractively(ctx: TurnContext, record: dict[str, Any]) -> None:
    """No LLM: the FAQ answer, or the best passage with its source named, or the fallback."""
    replies = ctx.app.config.replies
    if ctx.route in GUARDED:
        ctx.answer = getattr(replies, ctx.route).get(ctx.language)
        ctx.resources = []
        record.update(mode="preset")
        return
    if ctx.route in ("flow", "handoff", "ticket"):
        ctx.resources = []
        record.update(mode=ctx.route)
        return
    if ctx.route in DIRECT:
        hit = ctx.faq_hits[0]
        ctx.answer = hit.entry.answer
        ctx.resources = [faq_resource(ctx.app, hit, 1)]
        if ctx.reminder:
            ctx.answer = (
                f"{ctx.answer}\n\n{ctx.app.config.replies.resume.get(ctx.language)}{ctx.reminder}"
            )
    elif ctx.route == "passage":
        best = ctx.passages[0].chunk
        prefix = replies.source_prefix.get(ctx.language).format(source=best.document_name)
        ctx.answer = prefix + best.content
        ctx.resources = [
            chunk_resource(ctx.app, hit, position) for position, hit in enumerate(ctx.passages, 1)
        ]
    else:
        ctx.answer = replies.fallback.get(ctx.language)
        ctx.resources = []
    record.update(mode="extractive", sources=len(ctx.resources))
    leaked = ctx.app.answer_verdicts.get(ctx.answer)
    if leaked is None:
        leaked = ctx.app.answer_verdicts.put(
            ctx.answer, judge_answer(ctx.answer, ctx.app.sensitive)
        )
    if leaked:  # knowledge should never say it, but the customer must never see it
        record["output_sensitive_words"] = leaked
        ctx.answer = replies.blocked.get(ctx.language)
        ctx.resources = []
        return
    if ctx.app.model is not None and ctx.route not in DIRECT:
        plan_generation(ctx, record)


def plan_generation(ctx: TurnContext, record: dict[str, Any]) -> None:
    """With a model: number the sources it may use; without any, keep the fallback reply."""
    threshold = ctx.app.config.knowledge.passage_threshold
    faq_sources = [h for h in ctx.faq_hits if h.relevance >= threshold][:MAX_FAQ_SOURCES]
    sources = [faq_resource(ctx.app, hit, n) for n, hit in enumerate(faq_sources, 1)]
    offset = len(sources)
    sources += [chunk_resource(ctx.app, hit, offset + n) for n, hit in enumerate(ctx.passages, 1)]
    if not sources:
        return
    ctx.route = "generate"
    ctx.resources = sources
    record.update(mode="generate", sources=len(sources))


def faq_resource(app: AppRuntime, hit: FaqHit, position: int) -> dict[str, Any]:
    entry = hit.entry
    return {
        "position": position,
        "dataset_id": app.id,
        "dataset_name": app.name,
        "document_id": entry.document_id or "",
        "document_name": entry.document_name or "FAQ",
        "segment_id": entry.id,
        "score": round(hit.relevance, 4),
        "content": f"{entry.question}\n{entry.answer}",
    }


def chunk_resource(app: AppRuntime, hit: ChunkHit, position: int) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "position": position,
        "dataset_id": app.id,
        "dataset_name": app.name,
        "document_id": chunk.document_id,
        "document_name": chunk.document_name,
        "segment_id": chunk.id,
        "score": round(hit.relevance, 4),
        "content": chunk.content,
    }


Stage = Callable[[TurnContext, dict[str, Any]], None]
STAGES: tuple[tuple[str, Stage], ...] = (
    ("input_guard", input_guard),
    ("understand", understand),
    ("route", route),
    ("answer", answer_extractively),
)


def refuse(ctx: TurnContext) -> None:
    """Turn the answer into the polite refusal (a guard said no after routing)."""
    ctx.route = "refused"
    ctx.answer = ctx.app.config.replies.refused.get(ctx.language)
    ctx.resources = []
    ctx.trace.facts["route"] = "refused"


def start_pipeline(app: AppRuntime, raw_query: str) -> TurnContext:
    """The stages before routing: a ``RequestError`` here ends the turn before any output."""
    ctx = TurnContext(app=app, raw_query=raw_query)
    for name, stage in STAGES[:2]:
        with ctx.trace.stage(name) as record:
            stage(ctx, record)
    return ctx


def finish_pipeline(ctx: TurnContext) -> TurnContext:
    for name, stage in STAGES[2:]:
        with ctx.trace.stage(name) as record:
            stage(ctx, record)
    masking = ctx.app.config.safety.mask_pii_in_traces
    ctx.trace.facts.update(
        route=ctx.route,
        language=ctx.language,
        query=ctx.masked_query if masking else ctx.query,
        app=ctx.app.name,
    )
    if ctx.search_query != ctx.query:
        ctx.trace.facts["search_query"] = (
            mask_pii(ctx.search_query) if masking else ctx.search_query
        )
    return ctx


def run_pipeline(app: AppRuntime, raw_query: str) -> TurnContext:
    """Run every stage in order (no history, so no rewrite)."""
    return finish_pipeline(start_pipeline(app, raw_query))
