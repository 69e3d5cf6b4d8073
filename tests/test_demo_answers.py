"""The demo app answers real customer questions correctly, with sources, and no LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kefu.engine.retrieval import decide_direct
from kefu.services.runtime import Runtime, demo_app_file
from tests.turns import decide

EVAL_QUERIES = demo_app_file().parent / "demo-shop" / "eval_queries.jsonl"


@pytest.mark.parametrize(
    ("query", "faq_id", "must_contain"),
    [
        ("退货要扣多少运费?", "faq-zh-014", "12"),
        ("订单多久发货?", "faq-zh-001", "48"),
        ("How long does shipping take?", None, "days"),
    ],
)
def test_acceptance_questions(
    runtime: Runtime, query: str, faq_id: str | None, must_contain: str
) -> None:
    ctx = decide(runtime.apps.get("demo-shop"), query)
    assert ctx.route == "faq"
    assert must_contain in ctx.answer
    if faq_id:
        assert ctx.sources[0].segment_id == faq_id
    assert ctx.sources and ctx.sources[0].document_name


def test_passage_answer_names_its_source(runtime: Runtime) -> None:
    """No FAQ entry answers it, so the best policy passage is quoted with its section."""
    ctx = decide(runtime.apps.get("demo-shop"), "刻字的商品多久发货")
    assert ctx.route == "passage"
    prefix = "根据《配送政策》「发货时效」："
    assert ctx.answer.startswith(prefix)
    assert "3–5 个工作日" in ctx.answer
    assert ctx.sources[0].document_name == "配送政策"
    quoted = ctx.answer.removeprefix(prefix)
    assert quoted and quoted in ctx.sources[0].content  # sentences of the passage, verbatim


def test_refusing_delivery_asks_which_of_its_two_faqs(runtime: Runtime) -> None:
    """Return shipping (014) and refusing delivery (049) fit alike: the customer picks."""
    ctx = decide(runtime.apps.get("demo-shop"), "拒收的话运费谁出")
    assert ctx.route == "clarify" and ctx.answer.startswith("您想问的是下面哪一个？")
    assert {s.segment_id for s in ctx.sources} >= {"faq-zh-014", "faq-zh-049"}
    assert "快递可以拒收吗？" in ctx.answer and "退货要扣多少运费？" in ctx.answer


def test_english_passage_answer_names_its_source(runtime: Runtime) -> None:
    ctx = decide(runtime.apps.get("demo-shop"), "What happens if I refuse delivery?")
    assert ctx.route == "passage"
    assert ctx.answer.startswith(
        "According to “Shipping Policy” (Receiving and Refusing Delivery): "
    )
    assert all(s.document_name.endswith("Policy") for s in ctx.sources)


def test_out_of_scope_gets_the_fallback(runtime: Runtime) -> None:
    app = runtime.apps.get("demo-shop")
    for query, opening in [("帮我写一首关于大海的诗", "抱歉"), ("Who won the World Cup?", "Sorry")]:
        ctx = decide(app, query)
        assert ctx.route == "fallback", query
        assert ctx.answer.startswith(opening) and ctx.sources == []


# Held-out questions that are really requests about the customer's own order or account:
# the demo's flows take them (and look the answer up in the shop) instead of the FAQ.
PERSONAL_REQUESTS = {
    "我的包裹现在到哪儿了，在哪查",
    "I'd like to cancel the order I just paid for",
    "Why did I lose my Gold status?",
}


def test_held_out_faq_queries_hit_rate(runtime: Runtime) -> None:
    """Paraphrased customer questions (not in the FAQ) reach the right entry, and almost
    never a wrong one: a miss falls through to passages or the fallback, a wrong FAQ answer
    misleads. Decided as a turn decides, at the app's calibrated threshold per language: a
    clarifying question that offers the right entry is not a wrong answer. Measured at 30/40
    right and 1/40 wrong with lexical matching alone."""
    app = runtime.apps.get("demo-shop")
    rows = [json.loads(line) for line in EVAL_QUERIES.read_text(encoding="utf-8").splitlines()]
    right = wrong = 0
    for row in rows:
        decision, _ = decide_direct(app, row["text"], {})
        if decision is None:
            continue
        offered = [hit.entry.id for hit in decision.faq_hits]
        if decision.route == "clarify" and row["faq_id"] in offered:
            right += 1
        elif decision.route in ("faq", "clarify"):
            right += offered[0] == row["faq_id"] and decision.route == "faq"
            wrong += offered[0] != row["faq_id"] or decision.route == "clarify"
    assert right / len(rows) >= 0.75, f"{right}/{len(rows)} right"
    assert wrong <= 2, f"{wrong}/{len(rows)} answered with the wrong FAQ entry"


def test_faq_questions_rarely_start_a_flow(runtime: Runtime) -> None:
    """The intent classifier learnt the FAQ's questions as out of scope, so a paraphrased
    FAQ question is answered from knowledge; only requests about the customer's own order
    or account start a flow (at most one more, a near miss, is tolerated)."""
    app = runtime.apps.get("demo-shop")
    rows = [json.loads(line) for line in EVAL_QUERIES.read_text(encoding="utf-8").splitlines()]
    diverted = {
        row["text"] for row in rows if decide(app, row["text"]).route in ("flow", "handoff")
    }
    assert len(diverted & PERSONAL_REQUESTS) >= 2, diverted
    assert len(diverted - PERSONAL_REQUESTS) <= 1, diverted - PERSONAL_REQUESTS


def test_demo_yaml_is_valid(tmp_path: Path) -> None:
    from kefu.appfile.app_config import load_app_config

    config = load_app_config(demo_app_file())
    assert config.name == "demo-shop"
    assert len(config.knowledge.faq) == 2
