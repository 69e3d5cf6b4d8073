"""Stage 7, plan: the answer. Without a model it is extractive: the FAQ answer as written,
the best passage with its source named, or the fallback reply. With a model, a question
that has sources but no direct FAQ answer is planned for generation: the sources are
numbered, the grounded prompt is built, and the extractive answer stays ready in case
every model fails. Preset replies (guarded routes) and what a flow, a hand-over or a tool
call already answered pass through."""

from __future__ import annotations

from typing import Any

from kefu.core.types import Source
from kefu.engine.context import DIRECT, GUARDED, TurnContext
from kefu.engine.generation import build_turn_prompt, screen
from kefu.engine.retrieval import chunk_source, faq_source
from kefu.knowledge.quote import quote

__all__ = ["grounding_sources", "refuse", "run"]

MAX_FAQ_SOURCES = 2  # FAQ entries below the direct-answer bar still ground a generated answer


async def run(ctx: TurnContext, record: dict[str, Any]) -> None:
    replies = ctx.app.config.replies
    if ctx.route in GUARDED:
        ctx.answer = getattr(replies, ctx.route).get(ctx.language)
        ctx.sources = []
        record.update(mode="preset")
        return
    if ctx.route in ("flow", "handoff", "ticket"):
        record.update(mode=ctx.route)
        return
    if ctx.route == "generate":  # the model answered with tools (stage act)
        record.update(mode="function_calling", sources=len(ctx.sources))
        return
    _answer_extractively(ctx)
    record.update(mode="extractive", sources=len(ctx.sources))
    if ctx.app.model is None or ctx.route in DIRECT:
        return
    sources = grounding_sources(ctx)
    if not sources:
        return  # nothing to ground an answer on: the fallback reply
    if not await screen(ctx):
        refuse(ctx)
        record.update(mode="preset")
        return
    ctx.route = "generate"
    ctx.sources = sources
    if ctx.prompt is None:
        ctx.prompt = await build_turn_prompt(ctx, sources)
    record.update(mode="generate", sources=len(sources))


def _answer_extractively(ctx: TurnContext) -> None:
    app, replies = ctx.app, ctx.app.config.replies
    if ctx.route in DIRECT:
        hit = ctx.faq_hits[0]
        ctx.answer = hit.entry.answer
        ctx.sources = [faq_source(app, hit, 1)]
        if ctx.reminder:
            ctx.answer = f"{ctx.answer}\n\n{replies.resume.get(ctx.language)}{ctx.reminder}"
    elif ctx.route == "clarify":  # which of two answers: the customer picks by number
        options = "\n".join(f"{n}. {hit.entry.question}" for n, hit in enumerate(ctx.faq_hits, 1))
        ctx.answer = f"{replies.clarify.get(ctx.language)}\n{options}"
        if ctx.reminder:
            ctx.answer = f"{ctx.answer}\n\n{replies.resume.get(ctx.language)}{ctx.reminder}"
        ctx.sources = [faq_source(app, hit, n) for n, hit in enumerate(ctx.faq_hits, 1)]
    elif ctx.route == "passage":
        best = ctx.passages[0].chunk
        prefix = replies.source_prefix.get(ctx.language).format(
            source=best.document_name, section=_section(best.heading, best.document_name, ctx)
        )
        # The sentences that answer, not the whole chunk; a model gets whole chunks.
        ctx.answer = prefix + quote(ctx.search_query, best.content)
        ctx.sources = [chunk_source(app, hit, n) for n, hit in enumerate(ctx.passages, 1)]
    else:
        ctx.answer = replies.fallback.get(ctx.language)
        ctx.sources = []


def _section(heading: str, document: str, ctx: TurnContext) -> str:
    """The heading the quote comes from, set off for the source prefix ("" at the top)."""
    name = heading.rsplit(" > ", 1)[-1].strip() if heading else ""
    if not name or name == document:
        return ""
    return f"「{name}」" if ctx.language == "zh" else f" ({name})"


def grounding_sources(ctx: TurnContext) -> list[Source]:
    """What a model may answer from, numbered: good-enough FAQ entries, then passages."""
    threshold = ctx.app.passage_threshold(ctx.language)
    faq_hits = [h for h in ctx.faq_hits if h.relevance >= threshold][:MAX_FAQ_SOURCES]
    sources = [faq_source(ctx.app, hit, n) for n, hit in enumerate(faq_hits, 1)]
    offset = len(sources)
    sources += [chunk_source(ctx.app, hit, offset + n) for n, hit in enumerate(ctx.passages, 1)]
    return sources


def refuse(ctx: TurnContext) -> None:
    """The polite refusal: the model guard said no after routing."""
    ctx.route = "refused"
    ctx.answer = ctx.app.config.replies.refused.get(ctx.language)
    ctx.sources = []
    ctx.prompt = None
