"""A customer leaves a flow that started by mistake and gets the right answer (zh and en)."""

from __future__ import annotations

from kefu.services.chat import ChatRequest, TurnResult
from kefu.services.runtime import Runtime

RETURN_FEE_ZH = "12 元"
RETURN_FEE_EN = "12"


async def dialog(runtime: Runtime, user: str, *messages: str) -> list[TurnResult]:
    app = runtime.apps.get("demo-shop")
    results: list[TurnResult] = []
    conversation = None
    for message in messages:
        request = ChatRequest(app=app, user=user, query=message, conversation_id=conversation)
        result = await runtime.chat.answer(await runtime.chat.prepare(request))
        conversation = result.conversation_id
        results.append(result)
    return results


async def test_a_correction_leaves_the_flow_and_answers_what_was_meant(runtime: Runtime) -> None:
    started, corrected, after = await dialog(
        runtime, "escape-zh", "这个月话费怎么扣了两次", "不是，我问的是退货运费", "13900005678"
    )
    assert started.route == "flow" and "手机号" in started.answer
    assert corrected.route == "faq" and RETURN_FEE_ZH in corrected.answer
    assert "手机号" not in corrected.answer  # no reminder of the flow it left
    assert after.route != "flow"  # the phone number no longer fills the bill flow's slot


async def test_english_correction(runtime: Runtime) -> None:
    started, corrected = await dialog(
        runtime, "escape-en", "where is my order", "No, I meant how much is return shipping"
    )
    assert started.route == "flow" and "order number" in started.answer
    assert corrected.route == "faq" and RETURN_FEE_EN in corrected.answer
    assert "order number" not in corrected.answer


async def test_a_question_on_the_side_keeps_the_flow(runtime: Runtime) -> None:
    """Without a correction, an FAQ question mid-flow is a digression: answered, then the
    flow's question again."""
    _, side = await dialog(runtime, "escape-side", "这个月话费怎么扣了两次", "退货要扣多少运费？")
    assert side.route == "faq" and RETURN_FEE_ZH in side.answer and "手机号" in side.answer


async def test_not_this_cancels_the_flow(runtime: Runtime) -> None:
    for user, message in (("escape-deny", "不是这个"), ("escape-cancel", "算了，不用了")):
        _, cancelled = await dialog(runtime, user, "这个月话费怎么扣了两次", message)
        assert cancelled.route == "flow" and "已取消" in cancelled.answer
