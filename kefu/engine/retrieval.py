"""Knowledge for a question: an annotation, an FAQ answer, document passages or nothing.

The route stage asks here. For an app whose retrieval calls models (an embedder, a
reranker) :func:`retrieve` awaits those calls under the app's query deadline, so a slow or
failing model server never holds the event loop; a failure degrades the lookup (lexical
retrieval, or passages in fused order), noted in the trace, and such a decision is not
cached. Apps without models decide in :func:`lookup_knowledge`, cached per question.
"""

from __future__ import annotations

from typing import Any

from kefu.core.types import ChunkHit, FaqHit, Source
from kefu.engine.app import AppRuntime
from kefu.engine.context import GUARDED, TurnContext
from kefu.engine.route_cache import RouteDecision, fold_question
from kefu.engine.semantic_cache import clear_cut, content_words, particulars
from kefu.knowledge import Degraded, QueryVector
from kefu.knowledge.index import MAX_QUERY_CHARS
from kefu.knowledge.tokenizer import detect_language
from kefu.knowledge.topic import on_topic, topic_words
from kefu.nlu.dialog_acts import wants_human
from kefu.observability import metrics

__all__ = [
    "asks_for_human",
    "chunk_source",
    "faq_source",
    "lookup_knowledge",
    "on_topic",
    "retrieve",
    "topic_words",
]

FAQ_CANDIDATES = 3
CLARIFY_BELOW = 0.9  # a match this close to verbatim is answered, whatever the runner-up


def asks_for_human(ctx: TurnContext) -> bool:
    understood = ctx.understood
    return understood.wants_human if understood else wants_human(ctx.query)


async def retrieve(ctx: TurnContext) -> None:
    """Before ``route``, for an app whose retrieval calls models (an embedder, a reranker):
    the knowledge lookup with those calls awaited under the app's query deadline, so a slow
    or failing model server never holds the event loop. A failure degrades the turn (lexical
    retrieval, or passages in fused order), noted in this stage's ``degraded``; such a
    decision is not cached. Apps without models look knowledge up inside ``route``.

    Cheapest first: the exact cache; a verbatim FAQ question (no encoder call); the query's
    vector, then a recent near-duplicate's decision (:mod:`kefu.engine.semantic_cache`);
    else the whole lookup with that vector."""
    app = ctx.app
    if not app.index.calls_models or ctx.route in GUARDED or asks_for_human(ctx):
        return  # nothing to await, or ``route`` will not look knowledge up
    with ctx.trace.stage("retrieve") as record:
        query = ctx.search_query
        key = (query, ctx.language)
        cached = app.route_cache.get(key)
        metrics.cache_lookup("route", cached is not None)
        if cached is not None:
            record["cache"] = "hit"
            ctx.knowledge = _with_cache_mark(cached, "hit")
            return
        record.update(cache="miss", deadline_s=app.index.query_deadline_s)
        verbatim = verbatim_faq(app, query)
        if verbatim is not None:  # the lexical answer is certain: no encoder call
            record["encoder"] = "skipped: verbatim FAQ question"
            ctx.knowledge = _with_cache_mark(app.route_cache.put(key, verbatim), "miss")
            return
        deadline = app.index.query_deadline()
        vector = await app.index.query_vector(query, deadline=deadline)
        semantic = app.semantic_cache if vector.vector is not None else None
        bucket = semantic_bucket(ctx) if semantic is not None else None
        words = content_words(query) if semantic is not None else frozenset()
        if semantic is not None and vector.vector is not None:
            hit = semantic.get(bucket, vector.vector, words)
            metrics.cache_lookup("route_semantic", hit is not None)
            if hit is not None:
                record.update(cache="semantic", similar_to=hit.question)
                record["cosine"] = round(hit.cosine, 4)
                ctx.knowledge = _with_cache_mark(hit.decision, "semantic")
                return
        decision, degraded = await look_up_knowledge(app, query, vector, deadline)
        if degraded:
            record["degraded"] = [str(note) for note in degraded]
        else:
            app.route_cache.put(key, decision)
            if semantic is not None and vector.vector is not None and reusable(app, decision):
                semantic.put(bucket, vector.vector, query, decision, words)
        ctx.knowledge = _with_cache_mark(decision, "miss")


def reusable(app: AppRuntime, decision: RouteDecision) -> bool:
    """Whether a near-duplicate may reuse ``decision``: it stands clear of the thresholds."""
    knowledge = app.config.knowledge
    return clear_cut(
        decision,
        faq_threshold=float(decision.record.get("faq_threshold", knowledge.faq_threshold)),
        # the thresholds the decision was made with (per language, calibrated or set)
        passage_threshold=float(
            decision.record.get("passage_threshold", app.passage_threshold(app.config.language))
        ),
        clarify_margin=knowledge.clarify_margin,
        margin=knowledge.semantic_cache.margin,
    )


def semantic_bucket(ctx: TurnContext) -> tuple[object, ...]:
    """What a near-duplicate must share to reuse a decision: language, dialog state (the
    flow in progress, options offered) and the question's particulars (entities, numbers)."""
    understood = ctx.understood
    entities = [(e.type, e.text) for e in understood.entities] if understood else []
    state = ctx.dialog
    flow = state.active.flow if state.active is not None else ""
    return (ctx.language, flow, tuple(state.choices), particulars(ctx.search_query, entities))


def verbatim_faq(app: AppRuntime, query: str) -> RouteDecision | None:
    """The decision for a question that is one of the FAQ's own questions, word for word
    (case, width, spaces and punctuation aside) and of one answer only, decided lexically:
    its match is certain, so the encoder is not asked. None while annotations are on (they
    are matched with the vector) or for any other question."""
    if app.annotations.active:
        return None
    entry = app.faq_forms().get(fold_question(query))
    if entry is None:
        return None
    record: dict[str, Any] = {}
    lexical = QueryVector(query[:MAX_QUERY_CHARS], None)
    direct, _hits = decide_direct(app, query, record, lexical)
    if direct is None or direct.route != "faq" or direct.faq_hits[0].entry.id != entry:
        return None
    return direct


def lookup_knowledge(ctx: TurnContext, record: dict[str, Any]) -> None:
    """A curated FAQ answer, else a document passage, else the fallback: what ``retrieve``
    decided, or (no models to await) decided here, cached per question."""
    decision = ctx.knowledge
    if decision is None:
        cache = ctx.app.route_cache
        key = (ctx.search_query, ctx.language)
        cached = cache.get(key)
        metrics.cache_lookup("route", cached is not None)
        if cached is None:
            decision = _with_cache_mark(cache.put(key, decide_knowledge(ctx)), "miss")
        else:
            decision = _with_cache_mark(cached, "hit")
    ctx.route = decision.route  # type: ignore[assignment]
    ctx.faq_hits, ctx.passages = list(decision.faq_hits), list(decision.passages)
    record.update(decision.record)


def _with_cache_mark(decision: RouteDecision, cache: str) -> RouteDecision:
    """The decision marked as a route-cache hit, semantic hit or miss (in the trace)."""
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
    return decide_passages(app, faq_hits, hits, record, query)


async def look_up_knowledge(
    app: AppRuntime, query: str, vector: QueryVector, deadline: float
) -> tuple[RouteDecision, list[Degraded]]:
    """The knowledge decision with the query's ``vector`` (awaited by the caller) and the
    reranker awaited by ``deadline``, and what had to do without them."""
    index = app.index
    record: dict[str, Any] = {}
    degraded = [vector.degraded] if vector.degraded else []
    direct, faq_hits = decide_direct(app, query, record, vector)
    if direct is not None:
        return direct, degraded
    found = await index.asearch(
        query, top_k=app.config.knowledge.top_k, vector=vector, deadline=deadline
    )
    if found.degraded:
        degraded.append(found.degraded)
    return decide_passages(app, faq_hits, found.hits, record, query), degraded


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
    fusion = app.index.faq_fusion
    if fusion is not None and fusion.active:  # the FAQ classifier's share of the relevance
        record["faq_classifier_weight"] = fusion.weight
        # the encoders it reads; the second (English MiniLM) only for an English query
        record["faq_classifier_encoders"] = app.index.faq_classifier_encoders
        if fusion.extra_encoder is not None:
            record["faq_classifier_second_vector"] = vector is not None and vector.extra is not None
    threshold = app.faq_threshold(detect_language(query))
    record["faq_threshold"] = threshold
    if faq_hits and faq_hits[0].relevance >= threshold:
        rivals = close_rivals(faq_hits, threshold, knowledge.clarify_margin)
        if rivals:  # guessing between answers that fit alike misleads every other time
            record["route"] = "clarify"
            return RouteDecision("clarify", (faq_hits[0], *rivals), (), record), faq_hits
        record["route"] = "faq"
        return RouteDecision("faq", tuple(faq_hits), (), record), faq_hits
    return None, faq_hits


def close_rivals(hits: list[FaqHit], threshold: float, margin: float) -> list[FaqHit]:
    """Other FAQ entries (with other answers) that fit the question almost as well as the
    best one: above the threshold, less than ``margin`` below the best — unless the best is
    a near-verbatim match."""
    best, rivals = hits[0], []
    if best.relevance >= CLARIFY_BELOW:
        return []
    answers = {best.entry.answer}
    for other in hits[1:]:
        if other.relevance < threshold or best.relevance - other.relevance >= margin:
            break
        if other.entry.answer not in answers:  # another language's copy: nothing to ask
            answers.add(other.entry.answer)
            rivals.append(other)
    return rivals


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
    app: AppRuntime,
    faq_hits: list[FaqHit],
    hits: list[ChunkHit],
    record: dict[str, Any],
    query: str = "",
) -> RouteDecision:
    """A passage above the passage threshold that is on the question's topic, else the
    fallback."""
    threshold = app.passage_threshold(detect_language(query) if query else app.config.language)
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
    if passages and query:
        wanted = topic_words(query)
        kept = tuple(h for h in passages if on_topic(wanted, h))
        if len(kept) < len(passages):
            record["off_topic_passages"] = len(passages) - len(kept)
        passages = kept
    record["route"] = "passage" if passages else "fallback"
    return RouteDecision(record["route"], tuple(faq_hits), passages, record)


def faq_source(app: AppRuntime, hit: FaqHit, position: int) -> Source:
    entry = hit.entry
    return Source(
        position=position,
        dataset_id=app.id,
        dataset_name=app.name,
        document_id=entry.document_id or "",
        document_name=entry.document_name or "FAQ",
        segment_id=entry.id,
        score=round(hit.relevance, 4),
        content=f"{entry.question}\n{entry.answer}",
    )


def chunk_source(app: AppRuntime, hit: ChunkHit, position: int) -> Source:
    chunk = hit.chunk
    return Source(
        position=position,
        dataset_id=app.id,
        dataset_name=app.name,
        document_id=chunk.document_id,
        document_name=chunk.document_name,
        segment_id=chunk.id,
        score=round(hit.relevance, 4),
        content=chunk.content,
    )
