"""Each hand-over trigger, through the service API: the customer says X → route, reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from kefu.appfile.handoff_config import BusinessHours, HandoffConfig
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel, ScriptedReply
from tests.handoff.conftest import Desk
from tests.handoff.receiver import Receiver


def reason(desk: Desk, conversation_id: str) -> tuple[str, str | None]:
    conversation = desk.runtime.store.handoff.conversation(conversation_id)
    assert conversation is not None
    return conversation.handoff_state, conversation.handoff_reason


async def say(desk: Desk, user: str, *queries: str) -> list[dict]:
    answers, cid = [], ""
    for query in queries:
        answer = await desk.ask(user, query, cid)
        cid = answer["conversation_id"]
        answers.append(answer)
    return answers


@pytest.fixture
def policy(desk_runtime: Runtime) -> Iterator[HandoffConfig]:
    """Tests may replace the desk app's hand-over policy; it is put back afterwards."""
    app = desk_runtime.apps.get("desk")
    original = app.config
    yield original.handoff
    app.config = original


def set_policy(desk: Desk, **changes: object) -> None:
    app = desk.runtime.apps.get("desk")
    app.config = app.config.model_copy(
        update={"handoff": app.config.handoff.model_copy(update=changes)}
    )


@pytest.mark.parametrize("words", ["转人工", "我要人工客服", "I want to talk to a human"])
async def test_an_explicit_request_hands_over(desk: Desk, words: str) -> None:
    [answer] = await say(desk, f"explicit-{words}", words)
    assert answer["metadata"]["handoff_state"] == "pending_human"
    assert reason(desk, answer["conversation_id"]) == ("pending_human", "customer_request")


@pytest.mark.parametrize(
    ("words", "why"),
    [
        ("再不退款我就打12315投诉你们", "legal_threat"),
        ("充电宝充电的时候冒烟了", "safety"),
        ("Someone hacked my account and placed orders", "fraud"),
        ("你们这什么破服务，我要投诉！", "complaint"),
        ("You can't answer anything, this is useless", "bot_unhelpful"),
    ],
)
async def test_an_escalation_hands_over_at_once(desk: Desk, words: str, why: str) -> None:
    [answer] = await say(desk, f"escalation-{why}", words)
    assert reason(desk, answer["conversation_id"]) == ("pending_human", why)


async def test_escalation_can_be_switched_off(desk: Desk, policy: HandoffConfig) -> None:
    set_policy(desk, escalate=False)
    [answer] = await say(desk, "no-escalation", "再不退款我就打12315投诉你们")
    assert answer["metadata"]["handoff_state"] == "bot"


async def test_negative_messages_in_a_row_hand_over(desk: Desk, policy: HandoffConfig) -> None:
    set_policy(desk, escalate=False)  # 气死, 投诉 are escalations of their own (above)
    first, second = await say(desk, "angry", "你们的服务太差了，气死我了", "我要投诉，太离谱了")
    assert first["metadata"]["handoff_state"] == "bot"
    assert second["answer"] == "正在为您转接人工客服，请稍候。"
    assert reason(desk, second["conversation_id"]) == ("pending_human", "negative_sentiment")


async def test_unanswered_questions_in_a_row_hand_over(desk: Desk) -> None:
    first, second = await say(desk, "lost", "量子纠缠怎么解释", "写一首关于秋天的诗")
    assert first["metadata"]["handoff_state"] == "bot"
    assert reason(desk, second["conversation_id"]) == ("pending_human", "unanswered")


async def test_an_answered_question_breaks_the_streak(desk: Desk) -> None:
    *_, last = await say(
        desk, "lucky", "量子纠缠怎么解释", "What are your opening hours?", "写一首关于秋天的诗"
    )
    assert last["metadata"]["handoff_state"] == "bot"


async def test_a_rule_on_intent_and_amount_hands_over(desk: Desk) -> None:
    [small] = await say(desk, "refund-small", "我要退款，金额100元")
    assert small["metadata"]["handoff_state"] == "bot"
    [large] = await say(desk, "refund-large", "我要退款，金额800元")
    assert reason(desk, large["conversation_id"]) == ("pending_human", "large_refund")


async def test_a_flow_that_keeps_asking_hands_over(desk: Desk) -> None:
    answers = await say(desk, "flow", "什么时候发货", "我找找看", "我找找看", "我找找看")
    states = [a["metadata"]["handoff_state"] for a in answers]
    assert states[0] == "bot" and "pending_human" in states
    assert reason(desk, answers[0]["conversation_id"]) == ("pending_human", "flow_failed")


async def test_a_failing_tool_marked_handoff_on_failure_hands_over(desk: Desk) -> None:
    [answer] = await say(desk, "tool", "什么时候发货 W1234567")
    assert answer["answer"] == "订单系统暂时繁忙，已为您转接人工客服。"
    assert reason(desk, answer["conversation_id"]) == ("pending_human", "tool_failed")


async def test_outside_business_hours_a_ticket_is_opened(
    desk: Desk, policy: HandoffConfig, receiver: Receiver
) -> None:
    set_policy(desk, business_hours=BusinessHours(days=[]))  # never open
    [answer] = await say(desk, "night-owl", "转人工")
    assert "工单" in answer["answer"] and "服务时间 09:00–22:00" in answer["answer"]
    assert answer["metadata"]["handoff_state"] == "bot"
    tickets = desk.runtime.store.tickets.list(conversation_id=answer["conversation_id"])
    assert [(t.status, t.created_by, t.title) for t in tickets] == [("open", "bot", "转人工")]
    assert tickets[0].reference in answer["answer"]
    await desk.runtime.handoff.notify.dispatcher.drain()
    hook = receiver.events("ticket")[-1].json["data"]["ticket"]
    assert hook["id"] == tickets[0].id


async def test_a_disabled_policy_never_hands_over(desk: Desk, policy: HandoffConfig) -> None:
    set_policy(desk, enabled=False)
    [answer] = await say(desk, "no-humans", "转人工")
    assert answer["metadata"]["handoff_state"] == "bot"
    assert answer["answer"].startswith("抱歉")


async def test_an_online_agent_is_assigned_at_once(desk: Desk) -> None:
    key = await desk.new_agent("online-olga")
    assert (await desk.agent(key, "POST", "/status", json={"online": True})).status_code == 200
    try:
        [answer] = await say(desk, "assigned", "转人工")
        assert answer["metadata"]["handoff_state"] == "human"
        state = desk.runtime.store.handoff.conversation(answer["conversation_id"])
        me = (await desk.agent(key, "GET", "/me")).json()
        assert state is not None and state.assigned_agent_id == me["id"]
    finally:
        await desk.agent(key, "POST", "/status", json={"online": False})


def test_business_hours_span_midnight_and_skip_days() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    night = BusinessHours(open=dt.time(22), close=dt.time(6), days=["fri"])
    assert night.is_open(dt.datetime(2026, 11, 20, 23, 0, tzinfo=shanghai))  # Friday night
    assert night.is_open(dt.datetime(2026, 11, 21, 5, 0, tzinfo=shanghai))  # …into Saturday
    assert not night.is_open(dt.datetime(2026, 11, 21, 23, 0, tzinfo=shanghai))  # Saturday
    day = BusinessHours.model_validate({"open": "09:00", "close": 1320})  # YAML reads 22:00
    assert day.close == dt.time(22) and not day.is_open(
        dt.datetime(2026, 11, 20, 14, tzinfo=dt.UTC)
    )


async def test_the_model_summary_reaches_the_note_of_an_assigned_hand_over(
    desk: Desk, policy: HandoffConfig
) -> None:
    """The summary is written while an agent already owns the conversation (auto-assigned):
    it is added to that hand-over's note all the same."""
    app = desk.runtime.apps.get("desk")
    set_policy(desk, llm_summary=True)
    app.model = ScriptedChatModel(default=ScriptedReply(("顾客要求人工处理退款。",)))
    key = await desk.new_agent("summary-sam")
    await desk.agent(key, "POST", "/status", json={"online": True})
    try:
        [answer] = await say(desk, "summarised", "转人工")
        assert answer["metadata"]["handoff_state"] == "human"
        await desk.runtime.handoff.drain()
        state = desk.runtime.store.handoff.conversation(answer["conversation_id"])
        assert state is not None and state.handoff_note is not None
        assert state.handoff_note["llm_summary"] == "顾客要求人工处理退款。"
    finally:
        app.model = None
        await desk.agent(key, "POST", "/status", json={"online": False})
