"""The semantic route cache: a near-duplicate of a recent question reuses its decision, and
nothing that could change the answer (an order id, a number, the dialog state, the
knowledge) is ever crossed."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest
from prometheus_client import REGISTRY

from kefu.core.types import FaqEntry, FaqHit
from kefu.engine.app import AppRuntime
from kefu.engine.context import TurnContext
from kefu.engine.route_cache import RouteDecision
from kefu.engine.semantic_cache import (
    SemanticRouteCache,
    clear_cut,
    content_words,
    particulars,
)
from kefu.engine.turn import run_turn
from kefu.services.runtime import Runtime


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def faq_decision(entry_id: str, relevance: float = 0.9, runner_up: float = 0.3) -> RouteDecision:
    entry = FaqEntry(entry_id, f"{entry_id}?", f"answer {entry_id}")
    record = {
        "faq_candidates": [
            {"id": entry_id, "relevance": relevance},
            {"id": "other", "relevance": runner_up},
        ]
    }
    return RouteDecision("faq", (FaqHit(entry, relevance, relevance, entry.question),), (), record)


def test_numbers_and_entities_are_particulars() -> None:
    assert particulars("订单 W2378156 到哪了") != particulars("订单 W2378157 到哪了")
    assert particulars("退货要三天吗") != particulars("退货要五天吗")
    assert particulars("can I use two coupons") != particulars("can I use three coupons")
    assert particulars("退货运费多少") == particulars("请问退货运费多少呢") == ()
    assert particulars("手机 １３９", [("phone", "139")]) == ("phone=139", "139")


def test_courtesy_and_question_words_are_not_content() -> None:
    assert content_words("你好，退货要扣多少运费？") == content_words("请问退货要扣多少运费呢")
    assert content_words("hi, how long does shipping take thanks") == content_words(
        "How long does shipping take??"
    )
    assert content_words("Where is my cash deposit?") != content_words("Where is my deposit?")


def test_a_near_duplicate_in_the_same_bucket_hits() -> None:
    now = [0.0]
    cache = SemanticRouteCache(size=4, threshold=0.95, ttl_s=60, clock=lambda: now[0])
    words = frozenset({"退货", "运费"})
    cache.put(("zh", ()), unit(1, 0, 0), "退货运费多少", faq_decision("fee"), words)
    hit = cache.get(("zh", ()), unit(1, 0.1, 0), words)
    assert hit is not None and hit.question == "退货运费多少" and hit.cosine > 0.99
    assert hit.decision.faq_hits[0].entry.id == "fee"
    assert cache.get(("zh", ()), unit(1, 1, 0), words) is None  # cosine 0.71: not similar
    assert cache.get(("en", ()), unit(1, 0, 0), words) is None  # another bucket
    assert cache.get(("zh", ()), unit(1, 0, 0), frozenset({"退货", "邮费"})) is None  # words
    now[0] = 61.0
    assert cache.get(("zh", ()), unit(1, 0, 0), words) is None  # expired


def test_the_oldest_question_makes_room() -> None:
    cache = SemanticRouteCache(size=2, threshold=0.95, ttl_s=60)
    for number, vector in enumerate((unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1))):
        cache.put("b", vector, f"q{number}", faq_decision(f"e{number}"))
    assert len(cache) == 2
    assert cache.get("b", unit(1, 0, 0)) is None
    hit = cache.get("b", unit(0, 0, 1))
    assert hit is not None and hit.question == "q2"


def test_the_words_index_follows_the_questions_it_holds() -> None:
    """A lookup skips the cosines when no recent question of its bucket shares enough content
    words; that index of rows by word moves with the ring buffer."""
    cache = SemanticRouteCache(size=2, threshold=0.9, ttl_s=60, min_overlap=0.75)
    four = frozenset({"退货", "运费", "快递", "包装"})
    cache.put("b", unit(1, 0, 0), "q0", faq_decision("e0"), four)
    cache.put("b", unit(1, 0.05, 0), "q1", faq_decision("e1"), four)
    three_of_four = cache.get("b", unit(1, 0, 0), four - {"包装"})  # Jaccard 3/4
    assert three_of_four is not None and three_of_four.question == "q0"
    cache.put("b", unit(0, 0, 1), "q2", faq_decision("e2"), frozenset())  # q0 makes room
    still = cache.get("b", unit(1, 0, 0), four)  # q1 holds the same words
    assert still is not None and still.question == "q1"
    wordless = cache.get("b", unit(0, 0, 1), frozenset())
    assert wordless is not None and wordless.question == "q2"
    assert cache.get("b", unit(0, 0, 1), frozenset({"退货"})) is None  # 0 of 1 word shared
    cache.put("b", unit(0, 1, 0), "q3", faq_decision("e3"), frozenset({"发货"}))  # q1 goes
    assert cache.get("b", unit(1, 0, 0), four) is None
    assert cache.get("b", unit(0, 1, 0), frozenset({"发货"})) is not None


def test_only_clear_cut_decisions_are_reused() -> None:
    settings = {"faq_threshold": 0.55, "passage_threshold": 0.3, "clarify_margin": 0.05}
    assert clear_cut(faq_decision("a", 0.9, 0.3), margin=0.05, **settings)
    assert not clear_cut(faq_decision("a", 0.58, 0.3), margin=0.05, **settings)  # near 0.55
    assert not clear_cut(faq_decision("a", 0.9, 0.82), margin=0.05, **settings)  # a rival
    fallback = RouteDecision("fallback", (), (), {"faq_candidates": [{"relevance": 0.2}]})
    assert clear_cut(fallback, margin=0.05, **settings)
    almost = RouteDecision("fallback", (), (), {"faq_candidates": [{"relevance": 0.53}]})
    assert not clear_cut(almost, margin=0.05, **settings)
    clarify = RouteDecision("clarify", (), (), {"faq_candidates": [{"relevance": 0.7}]})
    assert not clear_cut(clarify, margin=0.05, **settings)


def turn(app: AppRuntime, query: str) -> TurnContext:
    return asyncio.run(run_turn(TurnContext(app=app, raw_query=query)))


def retrieve_record(ctx: TurnContext) -> dict[str, object]:
    return next(s for s in ctx.trace.stages if s["name"] == "retrieve")


@pytest.fixture
def demo(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AppRuntime:
    """The demo app with empty route caches: the runtime is shared by many tests, and a
    question another test asked first would already be cached."""
    app = runtime.apps.get("demo-shop")
    assert app.semantic_cache is not None  # on by default with the default encoder
    monkeypatch.setattr(app, "route_cache", app._new_route_cache())
    monkeypatch.setattr(app, "semantic_cache", app._new_semantic_cache())
    return app


def semantic_hits() -> float:
    value = REGISTRY.get_sample_value(
        "kefu_cache_lookups_total", {"cache": "route_semantic", "result": "hit"}
    )
    return value or 0.0


def test_a_reworded_question_reuses_the_decision(demo: AppRuntime) -> None:
    hits = semantic_hits()
    first = turn(demo, "亲，会员等级要怎么升级呢")
    assert first.route == "faq" and retrieve_record(first)["cache"] == "miss"
    again = turn(demo, "请问会员等级要怎么升级？")
    record = retrieve_record(again)
    assert record["cache"] == "semantic", record
    assert record["similar_to"] == "亲，会员等级要怎么升级呢"
    assert again.route == "faq" and again.faq_hits[0].entry.id == first.faq_hits[0].entry.id
    assert again.answer == first.answer
    assert semantic_hits() == hits + 1  # what an operator sees on /metrics


def test_another_order_number_never_shares_a_decision(demo: AppRuntime) -> None:
    turn(demo, "亲，W2378156 会员等级要怎么升级")
    same = turn(demo, "请问 W2378156 会员等级要怎么升级？")
    assert retrieve_record(same)["cache"] == "semantic"  # the same order, reworded
    other = turn(demo, "亲，W2378157 会员等级要怎么升级")
    assert retrieve_record(other)["cache"] == "miss"
    assert turn(demo, "会员等级满 3 个月怎么升级").route == "faq"
    assert retrieve_record(turn(demo, "会员等级满 5 个月怎么升级"))["cache"] == "miss"


def test_new_knowledge_starts_an_empty_semantic_cache(demo: AppRuntime) -> None:
    before = demo.semantic_cache
    demo.install_annotations(dataclasses.replace(demo.annotations))  # the same, reloaded
    assert demo.semantic_cache is not None and demo.semantic_cache is not before
    assert len(demo.semantic_cache) == 0
