"""A flow's action: call its tools with the slots, then answer from the results.

Steps run in order; each step's arguments are templates over the slots and the results
saved so far (``find_user`` → ``get_membership(user.id)``). A failing tool never fails the
turn: the customer gets the flow's ``failure`` reply, the tool's degraded reply or the
app's preset one, and the trace says what happened.
"""

from __future__ import annotations

from typing import Any

from kefu.appfile.dialog_config import FlowConfig
from kefu.engine.context import TurnContext
from kefu.engine.dialog.templates import render, render_value
from kefu.engine.retrieval import chunk_source, faq_source
from kefu.knowledge.tokenizer import detect_language
from kefu.safety.pii import mask_pii
from kefu.tools import ToolContext, ToolResult, trace_entry

__all__ = ["run_flow_action"]


async def run_flow_action(ctx: TurnContext, record: dict[str, Any]) -> None:
    """Complete a flow whose step is ``act``: call the tools, render the answer, resume.
    ``record``: the act stage's trace entry."""
    step = ctx.flow_step
    assert step is not None and step.kind == "act"
    app = ctx.app
    flow = app.flows.by_name[step.flow]
    variables: dict[str, Any] = dict(step.arguments)
    failed: tuple[str, ToolResult] | None = None
    context = ToolContext(
        language=ctx.language, app=app.name, conversation_id=ctx.conversation_id, user=ctx.user
    )
    calls = record.setdefault("tool_calls", [])
    for action in flow.steps:
        arguments = (
            render_value(action.arguments, variables)
            if action.arguments is not None
            else dict(step.arguments)
        )
        arguments = {k: v for k, v in arguments.items() if v not in (None, "")}
        result = await app.tools.call(action.tool, arguments, context)
        calls.append(trace_entry(action.tool, arguments, result, mask_pii))
        if not result.ok:
            failed = (action.tool, result)
            break
        variables[action.save_as or action.tool] = result.data
        variables["result"] = result.data
    ctx.trace.facts.setdefault("tool_calls", []).extend(calls)
    if failed is None and flow.knowledge:
        variables["knowledge"] = await _knowledge(ctx, flow, variables, record)
    answer = _answer(ctx, flow, variables, failed)
    record["outcome"] = "answered" if failed is None else "degraded"
    resumed = app.flows.finish(ctx.dialog, ctx.language)
    ctx.answer = f"{answer}\n\n{resumed}" if resumed else answer
    if failed is not None and failed[1].handoff:
        ctx.route = "handoff"


async def _knowledge(
    ctx: TurnContext, flow: FlowConfig, variables: dict[str, Any], record: dict[str, Any]
) -> str:
    """The best FAQ answer or passage for the flow's knowledge question, as a source.

    Model calls (embedder, reranker) are awaited under the app's query deadline, as in the
    ``retrieve`` stage: a slow or failing model server degrades the lookup (lexical, fused
    order; noted in the trace), never holds the event loop or fails the turn."""
    question = render(flow.knowledge or "", variables)
    if not question:
        return ""
    index = ctx.app.index
    deadline = index.query_deadline()
    vector = await index.query_vector(question, deadline=deadline)
    degraded = [vector.degraded] if vector.degraded else []
    try:
        faq = index.match_faq(question, top_k=1, vector=vector)
        if faq and faq[0].relevance >= ctx.app.passage_threshold(detect_language(question)):
            ctx.sources.append(faq_source(ctx.app, faq[0], len(ctx.sources) + 1))
            return faq[0].entry.answer
        found = await index.asearch(question, top_k=1, vector=vector, deadline=deadline)
        degraded += [found.degraded] if found.degraded else []
        if found.hits:
            ctx.sources.append(chunk_source(ctx.app, found.hits[0], len(ctx.sources) + 1))
            return found.hits[0].chunk.content
        return ""
    finally:
        if degraded:
            record["knowledge_degraded"] = [str(note) for note in degraded]


def _answer(
    ctx: TurnContext,
    flow: FlowConfig,
    variables: dict[str, Any],
    failed: tuple[str, ToolResult] | None,
) -> str:
    if failed is None:
        text = render(flow.answer.get(ctx.language), variables)
        if text:
            return text
        return ctx.app.config.replies.action_failed.get(ctx.language)
    tool, result = failed
    if flow.failure is not None:
        failure_variables = {
            **variables,
            "failed_tool": tool,
            "outcome": result.outcome,
            "status_code": result.status_code,
            "error": result.error or "",
        }
        text = render(flow.failure.get(ctx.language), failure_variables)
        if text:
            return text
    if result.degraded_reply is not None:
        return result.degraded_reply.get(ctx.language)
    return ctx.app.config.replies.action_failed.get(ctx.language)
