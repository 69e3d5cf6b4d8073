"""The grounded prompt: numbered sources, policy, and history that fits the context."""

from __future__ import annotations

from datetime import UTC, datetime

from kefu.core.records import MessageRecord
from kefu.core.types import Source
from kefu.engine.prompt import Budget, build_prompt, cited_sources, estimate_tokens

SOURCE = Source(
    position=1, dataset_id="d", dataset_name="shop", document_id="doc", document_name="配送政策",
    segment_id="s", score=0.9, content="拒收扣 12 元。",
)  # fmt: skip


def turn(n: int, size: int = 10) -> MessageRecord:
    return MessageRecord(
        id=f"m{n}", app_id="a", conversation_id="c", end_user_id="u",
        query=f"问题{n} " + "字" * size, answer=f"回答{n} " + "字" * size, inputs={},
        status="normal", route="generate", language="zh", retriever_resources=[], usage={},
        latency_ms=1.0, error=None, created_at=datetime.now(UTC),
    )  # fmt: skip


def test_sources_are_numbered_and_policy_is_in_the_customers_language() -> None:
    plan = build_prompt(
        persona="你是客服。", language="en", sources=[SOURCE], history=[], question="Fee?",
        budget=Budget(4096, 256), window_turns=10,
    )  # fmt: skip
    system = plan.messages[0].content
    assert system.startswith("你是客服。")
    assert "Answer the customer only from the numbered sources" in system
    assert "[1] 《配送政策》\n拒收扣 12 元。" in system
    assert plan.messages[-1].content == "Fee?"


def test_history_is_cut_to_the_window_and_the_token_budget() -> None:
    history = [turn(n, size=200) for n in range(6)]
    roomy = build_prompt(
        persona="", language="zh", sources=[SOURCE], history=history, question="那运费呢?",
        budget=Budget(100_000, 256), window_turns=4,
    )  # fmt: skip
    assert roomy.history_used == 4 and roomy.history_dropped == 2
    assert roomy.messages[1].content.startswith("问题2")  # the newest four, oldest first
    tight = build_prompt(
        persona="", language="zh", sources=[SOURCE], history=history, question="那运费呢?",
        budget=Budget(1200, 256), window_turns=4,
    )  # fmt: skip
    assert 0 < tight.history_used < 4
    assert tight.prompt_tokens_estimate <= 1200 - 256
    assert tight.messages[-3].content.startswith("问题5"), "the newest turns are kept"


def test_estimate_counts_cjk_characters_as_tokens() -> None:
    assert estimate_tokens("退货运费") >= 4
    assert estimate_tokens("a" * 400) < 120


def test_citations_in_order_and_in_range() -> None:
    assert cited_sources("见 [2]，另见 [1][2] 和 [9]。", available=3) == [2, 1]
    assert cited_sources("没有引用", available=3) == []
