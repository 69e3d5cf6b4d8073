"""Grounded generation through the chat service, with a scripted model (``kefu.testing``).

Dialogs read as scripts: the customer asks → the model is given numbered sources → it
answers with citations, or fails and the customer gets the extractive answer anyway.
"""

from __future__ import annotations

from kefu.appfile.app_config import LimitsConfig
from kefu.services.chat import AnswerDelta, AnswerReplace, ChatRequest, TurnResult
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel, ScriptedReply

PASSAGE_QUESTION = "拒收的话运费谁出"  # no FAQ entry answers it directly; 《配送政策》 does
# Pieces long enough that the output guard (which holds back a tail as long as the longest
# sensitive word) releases text while the stream is still going.
PARTS = tuple(
    f"第{n}段：非质量问题拒收的订单按七天无理由退货处理，运费从退款中扣除。" for n in range(4)
)


def with_model(runtime: Runtime, model: ScriptedChatModel) -> None:
    runtime.apps.get("demo-shop").model = model


async def ask(runtime: Runtime, query: str, user: str = "u", conversation_id: str | None = None):
    app = runtime.apps.get("demo-shop")
    turn = await runtime.chat.prepare(
        ChatRequest(app=app, user=user, query=query, conversation_id=conversation_id)
    )
    events = [event async for event in runtime.chat.stream(turn)]
    result = events[-1]
    assert isinstance(result, TurnResult)
    return turn, events[:-1], result


async def test_model_answers_from_numbered_sources(llm_runtime: Runtime) -> None:
    pieces = [
        "非质量问题拒收的，",
        "按七天无理由退货处理，",
        "退回运费 12 元",
        "从退款中扣除 [1]。",
    ]
    model = ScriptedChatModel().say(*pieces)
    with_model(llm_runtime, model)
    _, events, result = await ask(llm_runtime, PASSAGE_QUESTION)
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    assert "".join(deltas) == "".join(pieces)
    assert len(deltas) >= 3, "streamed as it comes (the output guard holds back only a tail)"
    assert result.route == "generate"
    assert result.answer == "".join(pieces)
    assert [s.position for s in result.sources] == list(range(1, len(result.sources) + 1))
    system = model.calls[0][0]
    assert system.role == "system" and "只根据下面编号的资料回答" in system.content
    assert "[1] 《" in system.content and model.calls[0][-1].content == PASSAGE_QUESTION
    stored = llm_runtime.store.conversations.get_trace(result.message_id)
    assert stored is not None
    generate = next(s for s in stored.data["stages"] if s["name"] == "generate")
    assert generate["citations"] == [1] and generate["uncited"] is False
    assert generate["first_token_ms"] >= 0
    assert result.usage.completion_tokens > 0 and result.usage.total_tokens > 0


async def test_direct_faq_answer_never_calls_the_model(llm_runtime: Runtime) -> None:
    model = ScriptedChatModel()
    with_model(llm_runtime, model)
    _, _, result = await ask(llm_runtime, "退货要扣多少运费?")
    assert result.route == "faq" and "12" in result.answer
    assert model.calls == []


async def test_out_of_scope_keeps_the_fallback_reply(llm_runtime: Runtime) -> None:
    model = ScriptedChatModel()
    with_model(llm_runtime, model)
    _, _, result = await ask(llm_runtime, "帮我写一首关于大海的诗")
    assert result.route == "fallback" and result.answer.startswith("抱歉")
    assert model.calls == []


async def test_thinking_never_reaches_the_customer(llm_runtime: Runtime) -> None:
    with_model(
        llm_runtime,
        ScriptedChatModel().say("<thi", "nk>顾客问拒收运费</th", "ink>\n\n按政策扣 12 元 [1]。"),
    )
    _, events, result = await ask(llm_runtime, PASSAGE_QUESTION)
    assert result.answer == "按政策扣 12 元 [1]。"
    assert "".join(e.text for e in events if isinstance(e, AnswerDelta)) == result.answer


async def test_dead_model_gives_the_extractive_answer(llm_runtime: Runtime) -> None:
    with_model(llm_runtime, ScriptedChatModel().fail("connection refused"))
    _, events, result = await ask(llm_runtime, PASSAGE_QUESTION)
    assert result.answer.startswith("根据《配送政策》")
    assert all(isinstance(e, AnswerDelta) for e in events)
    stored = llm_runtime.store.conversations.get_message(
        llm_runtime.apps.get("demo-shop").id, result.message_id
    )
    assert stored is not None and stored.answer == result.answer
    assert stored.error == "extractive"


async def test_model_dying_mid_answer_is_replaced(llm_runtime: Runtime) -> None:
    first = "非质量问题拒收的，按七天无理由退货处理，退回的运费从退款中扣除，" * 3
    with_model(llm_runtime, ScriptedChatModel().fail("reset", 1, first, "never"))
    _, events, result = await ask(llm_runtime, PASSAGE_QUESTION)
    assert isinstance(events[0], AnswerDelta) and first.startswith(events[0].text)
    assert isinstance(events[-1], AnswerReplace)
    assert events[-1].text == result.answer and result.answer.startswith("根据《配送政策》")


async def test_an_answer_without_citations_is_flagged(llm_runtime: Runtime) -> None:
    with_model(llm_runtime, ScriptedChatModel().say("拒收要扣 12 元。"))
    _, _, result = await ask(llm_runtime, PASSAGE_QUESTION)
    trace = llm_runtime.store.conversations.get_trace(result.message_id)
    assert trace is not None
    generate = next(s for s in trace.data["stages"] if s["name"] == "generate")
    assert generate["citations"] == [] and generate["uncited"] is True


async def test_stop_closes_the_model_stream(llm_runtime: Runtime) -> None:
    model = ScriptedChatModel(replies=[ScriptedReply(PARTS, delay_s=0.01)])
    with_model(llm_runtime, model)
    app = llm_runtime.apps.get("demo-shop")
    turn = await llm_runtime.chat.prepare(ChatRequest(app=app, user="s", query=PASSAGE_QUESTION))
    events = []
    async for event in llm_runtime.chat.stream(turn):
        events.append(event)
        if len(events) == 1:
            llm_runtime.chat.stop(app, "s", turn.task_id)
    result = events[-1]
    assert isinstance(result, TurnResult) and result.status == "stopped"
    assert result.answer == events[0].text and len(result.answer) < len("".join(PARTS))
    assert model.closed_early == 1, "the upstream stream was closed, not read to the end"


async def test_follow_up_is_rewritten_before_retrieval(llm_runtime: Runtime) -> None:
    model = ScriptedChatModel().say("七天无理由退货流程 [1]。")
    with_model(llm_runtime, model)
    _, _, first = await ask(llm_runtime, "七天无理由退货怎么操作", user="r")
    model.say("七天无理由退货的运费谁承担？")  # the rewrite
    model.say("买家承担运费 [1]。")  # the answer
    _, _, second = await ask(
        llm_runtime, "那运费呢?", user="r", conversation_id=first.conversation_id
    )
    rewrite_call, answer_call = model.calls[-2], model.calls[-1]
    assert (
        "那运费呢?" in rewrite_call[-1].content
        and "七天无理由退货怎么操作" in rewrite_call[-1].content
    )
    trace = llm_runtime.store.conversations.get_trace(second.message_id)
    assert trace is not None and trace.data["search_query"] == "七天无理由退货的运费谁承担？"
    assert [m.role for m in answer_call] == ["system", "user", "assistant", "user"]
    assert answer_call[1].content == "七天无理由退货怎么操作"
    assert answer_call[-1].content == "那运费呢?"
    assert second.answer == "买家承担运费 [1]。"


async def test_turns_beyond_the_window_are_summarised(llm_runtime: Runtime) -> None:
    app = llm_runtime.apps.get("demo-shop")
    app.config = app.config.model_copy(update={"limits": LimitsConfig(history_turns=1)})
    model = ScriptedChatModel(default=ScriptedReply(("好的 [1]。",)))
    with_model(llm_runtime, model)
    _, _, first = await ask(llm_runtime, "拒收的话运费谁出", user="w")
    conversation = first.conversation_id
    await ask(llm_runtime, "定制商品可以七天无理由退货吗", user="w", conversation_id=conversation)
    model.calls.clear()
    model.say("偏远地区的包裹拒收，运费谁出？")  # the rewrite
    model.say("顾客先问了拒收运费。")  # the summary of the turn that no longer fits
    model.say("偏远地区同样按政策处理 [1]。")  # the answer
    _, _, third = await ask(llm_runtime, "偏远地区拒收呢", user="w", conversation_id=conversation)
    summary_call = model.calls[1]
    assert "总结" in summary_call[0].content and "拒收的话运费谁出" in summary_call[1].content
    answer_prompt = model.calls[2]
    assert "此前对话摘要：\n顾客先问了拒收运费。" in answer_prompt[0].content
    assert len(answer_prompt) == 4  # system, one kept turn (user + assistant), question
    trace = llm_runtime.store.conversations.get_trace(third.message_id)
    assert trace is not None
    prompt_stage = next(s for s in trace.data["stages"] if s["name"] == "prompt")
    assert prompt_stage["history_turns"] == 1 and prompt_stage["summarised_turns"] >= 1


async def test_client_leaving_closes_the_model_stream(llm_runtime: Runtime) -> None:
    import asyncio

    model = ScriptedChatModel(replies=[ScriptedReply(PARTS, delay_s=0.01)])
    with_model(llm_runtime, model)
    app = llm_runtime.apps.get("demo-shop")
    turn = await llm_runtime.chat.prepare(ChatRequest(app=app, user="gone", query=PASSAGE_QUESTION))
    stream = llm_runtime.chat.stream(turn)
    first = await anext(stream)
    assert isinstance(first, AnswerDelta) and PARTS[0].startswith(first.text)
    await stream.aclose()  # what the server does when the client disconnects
    assert model.closed_early == 1
    for _ in range(100):
        stored = llm_runtime.store.conversations.get_message(app.id, turn.message_id)
        if stored is not None:
            break
        await asyncio.sleep(0.02)
    assert stored is not None and stored.status == "stopped" and stored.answer == first.text
