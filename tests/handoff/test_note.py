"""The handover note: its reason in both UI languages, its summary in the conversation's."""

from __future__ import annotations

from kefu.core.ids import utcnow
from kefu.core.records import MessageRecord
from kefu.handoff.note import handover_note

STATE = {
    "last_intent": "after_sales.refund",
    "active": {"flow": "refund", "slots": {"order_id": "A1"}},
}


def turn(query: str, language: str, sentiment: str | None = "negative") -> MessageRecord:
    return MessageRecord(
        "m", "a", "c", "u", query, "好的", {}, "normal", "faq", language, [], {}, 1.0, None,
        utcnow(), intent="after_sales.refund", sentiment=sentiment,
    )  # fmt: skip


def test_the_reason_is_given_in_both_languages() -> None:
    note = handover_note("customer_request", STATE, [turn("转人工", "zh")])
    assert note["reason"] == "customer_request"
    assert note["reason_text"] == {"zh": "顾客要求转人工", "en": "the customer asked for a human"}


def test_a_rules_own_reason_is_shown_as_a_rule() -> None:
    note = handover_note("large_refund", None, [turn("退款 800 元", "zh")])
    assert note["reason_text"] == {
        "zh": "命中转人工规则（large_refund）",
        "en": "a hand-over rule matched (large_refund)",
    }


def test_the_summary_is_written_in_the_conversations_language() -> None:
    chinese = handover_note(
        "customer_request", {**STATE, "language": "zh"}, [turn("我要退款", "zh")]
    )
    assert chinese["language"] == "zh"
    assert chinese["summary"] == (
        "顾客要求转人工；意图 after_sales.refund；槽位 order_id=A1；情绪 负面；最后的问题：我要退款"
    )
    english = handover_note("unanswered", STATE, [turn("where is my parcel", "en", None)])
    assert english["language"] == "en"  # no language in the state: the customer's last message
    assert english["summary"] == (
        "the bot could not answer several questions in a row; intent after_sales.refund; "
        "slots order_id=A1; last question: where is my parcel"
    )
