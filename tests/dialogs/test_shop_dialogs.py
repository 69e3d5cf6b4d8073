"""The seeds of the project as acceptance dialogs: through the API, no LLM, a real shop.

The customer says X → the bot asks for what it needs → the customer answers → the bot
answers from the shop's own system (read back where it changed something).
"""

from __future__ import annotations

import httpx
import pytest

from tests.dialogs.script import Talk

pytestmark = pytest.mark.integration


@pytest.fixture
def talk(client: httpx.AsyncClient, user: str, shop: str) -> Talk:
    return Talk(client, user)


async def test_order_status_asks_for_the_number_then_answers_from_the_shop(talk: Talk) -> None:
    answer = await talk.say("我的订单还没发货,能查一下吗?")
    assert "订单号" in answer
    trace = await talk.trace()
    assert trace["route"] == "flow"
    understand = next(s for s in trace["stages"] if s["name"] == "understand")
    assert understand["intent"]["label"] == "order.status"
    answer = await talk.say("#W2378156")
    assert "#W2378156" in answer and "已签收" in answer
    for item in ("Headphones", "Vacuum Cleaner", "Mechanical Keyboard", "Smart Watch"):
        assert item in answer
    assert "843053632392" in answer  # the tracking number from the shop's fulfilment
    trace = await talk.trace()
    (call,) = trace["tool_calls"]
    assert call["tool"] == "get_order" and call["outcome"] == "ok"


async def test_membership_downgrade_asks_who_then_explains_with_the_rule(talk: Talk) -> None:
    answer = await talk.say("为什么我的会员等级降级了?")
    assert "手机号" in answer
    answer = await talk.say("13900005678")
    assert "银卡会员" in answer and "3,200" in answer and "5,000" in answer
    assert "3140" in answer  # points still needed this year to win Gold back
    assert talk.last["metadata"]["retriever_resources"], "the membership rule is a source"
    trace = await talk.trace()
    assert [c["tool"] for c in trace["tool_calls"]] == ["find_user", "get_membership"]
    assert "139****5678" in str(trace["tool_calls"][0]["arguments"])  # PII masked in the trace


async def test_doubled_bill_is_explained_from_the_bill_of_last_month(talk: Talk) -> None:
    answer = await talk.say("我上个月流量费突然翻倍,是不是乱收费?")
    assert "手机号" in answer
    trace = await talk.trace()
    understand = next(s for s in trace["stages"] if s["name"] == "understand")
    assert understand["sentiment"]["label"] == "negative"
    assert any(e["type"] == "date" for e in understand["entities"])
    answer = await talk.say("13800001234")
    for fact in ("58.4", "20.0GB", "29.8GB", "9.8GB", "3.0 元/GB", "29.4"):
        assert fact in answer, fact
    assert "并非乱收费" in answer and "建议" in answer


async def test_cancel_needs_identity_and_a_yes_and_changes_the_shop(talk: Talk, shop: str) -> None:
    answer = await talk.say("Cancel order #W6247578, I ordered by mistake")
    assert "email" in answer.lower()
    answer = await talk.say("yusuf.rossi7301@example.com")
    assert "#W6247578" in answer and "yes" in answer.lower()
    async with httpx.AsyncClient(base_url=shop) as http:
        assert (await http.get("/orders/W6247578")).json()["status"] == "pending"
        answer = await talk.say("yes")
        assert "cancelled" in answer.lower()
        order = (await http.get("/orders/W6247578")).json()
    assert order["status"] == "cancelled" and order["cancel_reason"] == "ordered by mistake"


async def test_no_keeps_the_order(talk: Talk, shop: str) -> None:
    await talk.say("我要取消订单 #W7017301，不想要了")
    answer = await talk.say("mei.martin4637@example.com")
    assert "确认" in answer
    answer = await talk.say("不要")
    assert "不做任何更改" in answer
    async with httpx.AsyncClient(base_url=shop) as http:
        assert (await http.get("/orders/W7017301")).json()["status"] == "pending"


async def test_someone_elses_order_is_not_cancelled(talk: Talk, shop: str) -> None:
    await talk.say("帮我取消订单 #W1130240，买错了")
    await talk.say("mei.martin4637@example.com")
    answer = await talk.say("是的")
    assert "不属于" in answer
    async with httpx.AsyncClient(base_url=shop) as http:
        assert (await http.get("/orders/W1130240")).json()["status"] == "pending"


async def test_a_question_on_the_side_is_answered_and_the_flow_goes_on(talk: Talk) -> None:
    await talk.say("帮我查一下订单")
    answer = await talk.say("退货要扣多少运费?")
    assert "12" in answer and "订单号" in answer  # the FAQ answer, then the reminder
    answer = await talk.say("W2378156")
    assert "已签收" in answer


async def test_cancel_then_the_bot_answers_normally(talk: Talk) -> None:
    await talk.say("帮我查一下订单")
    assert "已取消" in await talk.say("算了")
    answer = await talk.say("订单多久发货？")
    assert talk.last["metadata"]["retriever_resources"] and "16:00" in answer


async def test_three_failed_asks_hand_over(talk: Talk) -> None:
    await talk.say("帮我查一下订单")
    assert "没有识别" in await talk.say("我忘了")
    assert "没有识别" in await talk.say("不记得了啊")
    assert "人工" in await talk.say("真的想不起来")
    trace = await talk.trace()
    assert trace["route"] == "handoff"


async def test_switch_topic_and_come_back(talk: Talk) -> None:
    await talk.say("帮我查一下订单")
    answer = await talk.say("为什么我的会员等级降级了?")
    assert "手机号" in answer
    answer = await talk.say("13900005678")
    assert "银卡会员" in answer and "继续刚才" in answer and "订单号" in answer
    assert "已签收" in await talk.say("#W2378156")


async def test_slow_shop_gets_the_degraded_reply_not_an_error(talk: Talk, shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        await http.post("/_faults", json={"delay_ms": 4000, "paths": ["/orders"]})
        try:
            await talk.say("查订单 #W2378156")
        finally:
            await http.delete("/_faults")
    assert "繁忙" in talk.last["answer"]
    trace = await talk.trace()
    assert trace["tool_calls"][0]["outcome"] == "timeout"


async def test_failing_shop_gets_the_degraded_reply(talk: Talk, shop: str) -> None:
    async with httpx.AsyncClient(base_url=shop) as http:
        await http.post("/_faults", json={"status": 503, "paths": ["/users"]})
        try:
            answer = await talk.say("我上个月流量费突然翻倍，帮我查下，手机号 13800001234")
        finally:
            await http.delete("/_faults")
    assert "繁忙" in answer
    trace = await talk.trace()
    assert trace["tool_calls"][0]["outcome"] == "unavailable"
