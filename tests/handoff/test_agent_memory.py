"""After a hand-over the model's prompt holds what the customer and the agent said, in
order, without empty turns."""

from __future__ import annotations

from datetime import UTC, datetime

from kefu.core.records import MessageRecord
from kefu.engine.prompt import Budget, build_prompt


def turn(query: str, answer: str, agent: str | None = None) -> MessageRecord:
    return MessageRecord(
        "m", "a", "c", "u", query, answer, {}, "normal", "agent" if agent else "faq", "zh",
        [], {}, 0.0, None, datetime.now(UTC), agent_name=agent,
    )  # fmt: skip


def test_agent_replies_are_assistant_turns_and_held_messages_user_turns() -> None:
    history = [
        turn("转人工", "正在为您转接人工客服，请稍候。"),
        turn("订单 W1234567 还没到", ""),  # while the agent owned the conversation
        turn("", "已为您催促快递，明天送达。", agent="小王"),
    ]
    plan = build_prompt(
        persona="", language="zh", sources=[], history=history, question="那运费呢？",
        budget=Budget(4096, 256), window_turns=10,
    )  # fmt: skip
    said = [(m.role, m.content) for m in plan.messages[1:]]
    assert said == [
        ("user", "转人工"),
        ("assistant", "正在为您转接人工客服，请稍候。"),
        ("user", "订单 W1234567 还没到"),
        ("assistant", "已为您催促快递，明天送达。"),
        ("user", "那运费呢？"),
    ]
