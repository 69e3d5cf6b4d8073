"""LLM function calling: the model looks things up with the app's tools, in a bounded loop.

Only read-only tools are offered: a tool marked ``confirm`` changes the customer's data, so
it runs from a flow after an explicit yes, never on a model's say-so — except in agent mode
(``llm.agent``, the τ²-bench setting), where every message no flow, FAQ or hand-over took
goes to the model with all the tools, the app's persona saying when a change may be made,
and the model sees the tool calls of earlier turns (kept in the dialog state). Each round the model
either answers or asks for calls; each call goes through the tool registry (arguments
validated, timeout, degraded result) and into the trace with its arguments masked. After
``max_tool_steps`` rounds the model must answer without tools. Any model failure leaves
the turn to the ordinary path, so function calling can only add to an answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kefu.core.errors import ProviderError
from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.dialog.dialog_state import MAX_TOOL_MEMORY
from kefu.engine.guards import judge_answer
from kefu.llm.base import ChatMessage, Completion
from kefu.llm.profiles import ThinkStripper
from kefu.safety.pii import mask_pii
from kefu.tools import ToolContext, trace_entry

__all__ = ["answer_with_tools", "model_tools", "wants_lookup"]

log = logging.getLogger(__name__)
MAX_CALLS_PER_STEP = 4
MEMORY_RESULT_CHARS = 4000  # of one earlier tool result, in agent mode
MEMORY_HEADING = {
    "zh": "本次对话中此前的工具调用及结果：",
    "en": "Tool calls made earlier in this conversation, with their results:",
}
TOOLS_NOTE = {
    "zh": "你可以调用提供的工具查询该顾客的订单、账单和会员信息；只依据工具结果和资料回答。",
    "en": "You may call the provided tools to look up this customer's orders, bills and "
    "membership; answer only from the tool results and the sources.",
}


def wants_lookup(ctx: TurnContext) -> bool:
    """Worth offering tools: no flow took the message, and the customer names something only
    the business systems know (an order, a phone number, an e-mail, a date, an amount).
    Other questions keep the streamed, cited answer (or the fallback) with no extra call."""
    understood = ctx.understood
    if ctx.route not in ("passage", "fallback"):
        return False
    if ctx.app.config.llm.agent:
        return True  # agent mode: the model handles every message nothing else took
    return understood is not None and bool(understood.entities)


def model_tools(app: AppRuntime, language: str) -> list[dict[str, Any]]:
    """The app's tools a model may call: those that do not change state (all in agent
    mode)."""
    if app.model is None or not app.config.llm.function_calling:
        return []
    agent = app.config.llm.agent
    offered = []
    for spec in app.tools.openai_tools("zh" if language == "zh" else "en"):
        tool = app.tools.get(spec["function"]["name"])
        if tool is not None and (agent or not tool.confirm):
            offered.append(spec)
    return offered


async def answer_with_tools(
    ctx: TurnContext,
    prompt: list[ChatMessage],
    tools: list[dict[str, Any]],
    record: dict[str, Any],
) -> bool:
    """Let the model call ``tools`` (from :func:`model_tools`), then answer. True when it
    called any and answered (route ``generate``, the answer in ``ctx.answer``, no prompt
    left to stream); False leaves the turn as it was. ``record``: the act stage's."""
    app = ctx.app
    model = app.model
    if model is None or not tools:
        return False
    sampling = app.config.llm.sampling
    agent = app.config.llm.agent
    memory = ctx.dialog.tool_memory
    messages = _with_note(prompt, ctx.language, memory if agent else [])
    context = ToolContext(
        language=ctx.language, app=app.name, conversation_id=ctx.conversation_id, user=ctx.user
    )
    called = False
    calls = record.setdefault("tool_calls", [])
    try:
        for step in range(app.config.llm.max_tool_steps + 1):
            offer = tools if step < app.config.llm.max_tool_steps else None
            completion = await model.complete(messages, sampling, offer)
            _count_usage(ctx, completion)
            if not completion.tool_calls:
                break
            called = True
            # Every call in the assistant message needs its tool message: keep only those run.
            kept = completion.tool_calls[:MAX_CALLS_PER_STEP]
            messages.append(ChatMessage("assistant", completion.text, tool_calls=kept))
            for call in kept:
                result = await app.tools.call(call.name, call.arguments, context)
                calls.append(trace_entry(call.name, _arguments(call.arguments), result, mask_pii))
                content = result.model_content()
                messages.append(ChatMessage("tool", content, tool_call_id=call.id))
                if agent:
                    memory.append(
                        {
                            "tool": call.name,
                            "arguments": call.arguments,
                            "result": content[:MEMORY_RESULT_CHARS],
                        }
                    )
                    del memory[:-MAX_TOOL_MEMORY]
    except ProviderError as exc:
        record["error"] = exc.message
        log.warning("function calling failed, answering without tools: %s", exc.message)
        return False
    finally:
        record["steps"] = len([m for m in messages if m.tool_calls])
        if calls:
            ctx.trace.facts.setdefault("tool_calls", []).extend(calls)
    if not called and not agent:
        return False
    answer = _visible(completion.text)
    if not answer or judge_answer(answer, app.sensitive):
        record["discarded"] = "empty or sensitive answer"
        return False
    ctx.answer = answer
    ctx.route = "generate"
    ctx.prompt = None
    ctx.trace.facts["mode"] = "function_calling"
    return True


def _with_note(
    prompt: list[ChatMessage], language: str, memory: list[dict[str, str]]
) -> list[ChatMessage]:
    lang = "zh" if language == "zh" else "en"
    note = TOOLS_NOTE[lang]
    if memory:
        lines = [f"- {m['tool']}({m['arguments']}) → {m['result']}" for m in memory]
        note = f"{note}\n\n{MEMORY_HEADING[lang]}\n" + "\n".join(lines)
    messages = list(prompt)
    if messages and messages[0].role == "system":
        messages[0] = ChatMessage("system", f"{messages[0].content}\n\n{note}")
    else:
        messages.insert(0, ChatMessage("system", note))
    return messages


def _visible(text: str) -> str:
    stripper = ThinkStripper()
    return (stripper.feed(text) + stripper.finish()).strip()


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text[:200]}
    return value if isinstance(value, dict) else {"_raw": text[:200]}


def _count_usage(ctx: TurnContext, completion: Completion) -> None:
    usage = ctx.trace.facts.setdefault("tool_loop_usage", {"prompt": 0, "completion": 0})
    usage["prompt"] += completion.usage.prompt_tokens
    usage["completion"] += completion.usage.completion_tokens
