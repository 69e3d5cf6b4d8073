from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import KnowledgeIndex, knowledge_fingerprint

FAQ_THRESHOLD = 0.55  # KnowledgeConfig.faq_threshold
PASSAGE_THRESHOLD = 0.3  # KnowledgeConfig.passage_threshold


# --- FAQ matching --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "entry_id"),
    [
        ("退货要扣多少运费?", "zh-return-fee"),
        ("订单多久发货?", "zh-ship-time"),
        ("发货要几天啊", "zh-ship-time"),
        ("How long does shipping take?", "en-ship-time"),
        ("can I return something I bought", "en-return-how"),
        ("ＨＯＷ ＬＯＮＧ ＤＯＥＳ ＳＨＩＰＰＩＮＧ ＴＡＫＥ？", "en-ship-time"),
        ("退货的运费要我自己出吗", "zh-return-fee"),
        ("我想改一下收货地址", "zh-change-address"),
        ("东西收到是坏的怎么办", "zh-damaged"),
        ("可以用支付宝付款吗", "zh-payment"),
        ("快递到哪里了", "zh-track"),
        ("怎么找人工客服", "zh-human"),
        ("退款几天能到账", "zh-refund-time"),
        ("保修期多长时间", "zh-warranty"),
        ("when will my order be shipped", "en-ship-time"),
        ("how long until I get my refund", "en-refund-time"),
        ("I need to change my delivery address", "en-change-address"),
        ("where is my package", "en-track"),
        ("do you accept paypal", "en-payment"),
        ("can I talk to a real person", "en-human"),
    ],
)
def test_paraphrases_hit_the_right_entry_above_threshold(
    shop_index: KnowledgeIndex, query: str, entry_id: str
) -> None:
    best = shop_index.match_faq(query)[0]
    assert best.entry.id == entry_id
    assert best.relevance >= FAQ_THRESHOLD


@pytest.mark.parametrize(
    "query",
    [
        # unrelated
        "今天天气怎么样",
        "what is the capital of France",
        "你是谁",
        "asdfgh",
        "讲个笑话",
        "what time is it",
        # near the FAQ but not answered by it
        "怎么修改手机号",
        "发票抬头写错了怎么办",
        "How do I change my password?",
        "Do you sell gift cards?",
        "how long does an exchange take",
        "How long is the warranty?",
        "支持分期付款吗",
        "can I pay in installments",
        "订单号是多少",
    ],
)
def test_unrelated_and_near_miss_questions_stay_below_threshold(
    shop_index: KnowledgeIndex, query: str
) -> None:
    assert all(hit.relevance < FAQ_THRESHOLD for hit in shop_index.match_faq(query))


@pytest.mark.xfail(
    strict=True,
    reason="lexical limit: one topic word swapped in a three-word question (换货 for 退货) "
    "keeps two thirds of the words; telling these apart needs embeddings or a reranker",
)
@pytest.mark.parametrize("query", ["换货运费谁承担", "积分多久到账", "优惠券多久过期"])
def test_known_limit_swapped_topic_words(shop_index: KnowledgeIndex, query: str) -> None:
    assert all(hit.relevance < FAQ_THRESHOLD for hit in shop_index.match_faq(query))


@pytest.mark.parametrize(
    ("query", "entry_id", "runner_up"),
    [
        ("How long does a refund take?", "en-refund-time", "en-ship-time"),
        ("快递几天能到", "zh-delivery-time", "zh-ship-time"),
        ("退货运费谁承担", "zh-return-fee", "zh-return-how"),
    ],
)
def test_close_entries_rank_in_order(
    shop_index: KnowledgeIndex, query: str, entry_id: str, runner_up: str
) -> None:
    hits = shop_index.match_faq(query, top_k=5)
    ids = [hit.entry.id for hit in hits]
    assert ids[0] == entry_id
    assert runner_up in ids[1:]
    assert hits[0].relevance == 1.0 > hits[ids.index(runner_up)].relevance


def test_a_short_query_does_not_match_longer_questions(shop_index: KnowledgeIndex) -> None:
    # "退货" fully covers the form "怎么退货" but only a third of "退货运费谁承担".
    ranked = shop_index.match_faq("退货", top_k=5)
    assert (ranked[0].entry.id, ranked[0].relevance) == ("zh-return-how", 1.0)
    hits = {hit.entry.id: hit.relevance for hit in ranked}
    assert hits["zh-return-fee"] < FAQ_THRESHOLD
    assert hits["zh-return-policy"] < FAQ_THRESHOLD


def test_faq_hits_are_one_per_entry_sorted_with_the_matched_form(
    shop_index: KnowledgeIndex,
) -> None:
    hits = shop_index.match_faq("退货运费怎么算", top_k=10)
    ids = [hit.entry.id for hit in hits]
    assert len(ids) == len(set(ids))
    assert [hit.relevance for hit in hits] == sorted((h.relevance for h in hits), reverse=True)
    assert all(0 < hit.relevance <= 1 and hit.score > 0 for hit in hits)
    best = shop_index.match_faq("下单后几天发货")[0]
    assert (best.entry.id, best.matched, best.relevance) == ("zh-ship-time", "下单后几天发货", 1.0)
    assert len(shop_index.match_faq("退货", top_k=2)) == 2


def test_a_query_may_combine_words_from_two_variants(shop_index: KnowledgeIndex) -> None:
    # "支付宝" is in one variant and "信用卡" in another; the entry covers the whole query.
    best = shop_index.match_faq("支付宝和信用卡都能用吗")[0]
    assert best.entry.id == "zh-payment"
    assert best.relevance >= FAQ_THRESHOLD


def test_words_cut_differently_still_count_by_their_characters() -> None:
    # "付完款" is cut 付 / 完 / 款, the question has "付款": its characters earn part credit.
    index = KnowledgeIndex()
    index.rebuild(
        [FaqEntry("ship", "付款后几天发货", "A"), FaqEntry("arrive", "快递几天能到", "B")], []
    )
    hits = index.match_faq("付完款要几天才发货")
    assert [hit.entry.id for hit in hits] == ["ship", "arrive"]
    assert hits[0].relevance >= FAQ_THRESHOLD  # 0.50 on whole words alone
    assert hits[1].relevance < FAQ_THRESHOLD


# --- passages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "chunk_id"),
    [
        ("无理由退货的运费谁出", "return_policy-2"),
        ("退款多久到账", "return_policy-3"),
        ("内衣可以七天无理由退货吗", "return_policy-1"),
        ("满多少包邮", "shipping-2"),
        ("大促什么时候发货", "shipping-0"),
        ("信用卡退款要多久", "return_policy-3"),
        ("is water damage covered", "warranty-0"),
        ("how do I claim warranty repair", "warranty-1"),
        ("how long is the warranty on electronics", "warranty-0"),
        ("when do my points expire", "membership-0"),
    ],
)
def test_passages_for_relevant_questions(
    shop_index: KnowledgeIndex, query: str, chunk_id: str
) -> None:
    best = shop_index.search(query)[0]
    assert best.chunk.id == chunk_id
    assert best.relevance >= PASSAGE_THRESHOLD


@pytest.mark.parametrize(
    "query",
    ["今天天气怎么样", "what is the capital of France", "讲个笑话", "how do I reset my password",
     "推荐一款手机", "订单号是多少", "怎么修改手机号"],
)  # fmt: skip
def test_junk_finds_no_passage_above_threshold(shop_index: KnowledgeIndex, query: str) -> None:
    assert all(hit.relevance < PASSAGE_THRESHOLD for hit in shop_index.search(query))


def test_chunk_headings_are_searchable(shop_index: KnowledgeIndex) -> None:
    # "时效" appears only in the heading "配送范围与时效".
    assert shop_index.search("配送时效")[0].chunk.id == "shipping-1"


def test_passage_hits_are_sorted_and_limited(shop_index: KnowledgeIndex) -> None:
    hits = shop_index.search("退货运费", top_k=2)
    assert len(hits) == 2
    assert hits[0].chunk.id == "return_policy-2"
    assert hits[0].relevance >= hits[1].relevance


# --- bad queries and empty indexes -----------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "？？！！", "的了吗", "zzqx qqzz", "\x00\ud800"])
def test_queries_with_nothing_to_match_return_nothing(
    shop_index: KnowledgeIndex, query: str
) -> None:
    assert shop_index.match_faq(query) == []
    assert shop_index.search(query) == []


def test_top_k_zero_returns_nothing(shop_index: KnowledgeIndex) -> None:
    assert shop_index.match_faq("退货", top_k=0) == []
    assert shop_index.search("退货", top_k=0) == []


def test_a_100_kb_query_stays_fast(shop_index: KnowledgeIndex) -> None:
    query = "退货运费谁承担，" * 12_500
    assert len(query.encode()) > 100_000
    started = time.perf_counter()
    hits = shop_index.match_faq(query)
    passages = shop_index.search(query)
    assert time.perf_counter() - started < 0.1
    assert hits[0].entry.id == "zh-return-fee"
    assert passages[0].chunk.id == "return_policy-2"


def test_an_empty_index_matches_nothing() -> None:
    index = KnowledgeIndex()
    assert index.match_faq("退货") == [] and index.search("退货") == []
    index.rebuild([FaqEntry("x", "的了吗", "A")], [])  # a question made only of stopwords
    assert index.match_faq("退货") == [] and index.match_faq("的了") == []
    assert (index.faq_count, index.chunk_count) == (1, 0)


def test_query_latency_on_a_100_entry_faq(shop_faqs: list[FaqEntry]) -> None:
    topic_text = (
        "积分 礼品卡 预售 定金 赠品 安装 配件 尺码 面料 保质期 正品 自提 团购 秒杀 满减 评价"
    )
    topics = (topic_text + " 注销").split()
    extra = [
        FaqEntry(f"extra-{i}", f"{topic}{suffix}", "…", (f"关于{topic}", f"{topic}问题"))
        for i, (topic, suffix) in enumerate(
            (topic, suffix)
            for suffix in ("怎么申请？", "有什么规则？", "可以退吗？", "在哪看？")
            for topic in topics
        )
    ]
    faqs = [*shop_faqs, *extra][:100]
    assert len(faqs) == 100
    index = KnowledgeIndex()
    index.rebuild(faqs, [])
    queries = ["退货要扣多少运费?", "How long does shipping take?", "积分怎么用", "asdfgh"]
    for query in queries:
        index.match_faq(query)
    rounds = 100
    started = time.perf_counter()
    for _ in range(rounds):
        for query in queries:
            index.match_faq(query)
    per_query = (time.perf_counter() - started) / (rounds * len(queries))
    assert per_query < 0.001  # measured ≈ 60 µs


# --- persistence and swapping --------------------------------------------------------


def test_persisted_index_loads_with_its_fingerprint(
    tmp_path: Path, shop_faqs: list[FaqEntry], shop_chunks: list[Chunk]
) -> None:
    built = KnowledgeIndex(tmp_path)
    built.rebuild(shop_faqs, shop_chunks)
    fingerprint = knowledge_fingerprint(shop_faqs, shop_chunks)
    assert built.fingerprint == fingerprint

    loaded = KnowledgeIndex(tmp_path)
    assert loaded.load("not-the-fingerprint") is False
    assert loaded.fingerprint is None and loaded.match_faq("退货") == []
    assert loaded.load(fingerprint) is True
    assert loaded.fingerprint == fingerprint
    for query in ["退货要扣多少运费?", "can I return something I bought", "无理由退货的运费谁出"]:
        assert loaded.match_faq(query, top_k=5) == built.match_faq(query, top_k=5)
        assert loaded.search(query, top_k=5) == built.search(query, top_k=5)


def test_a_rebuild_replaces_the_persisted_index(tmp_path: Path, shop_faqs: list[FaqEntry]) -> None:
    index = KnowledgeIndex(tmp_path)
    index.rebuild(shop_faqs, [])
    index.rebuild(shop_faqs[:2], [])
    assert len(list(tmp_path.glob("index-*"))) == 1
    assert KnowledgeIndex(tmp_path).load(knowledge_fingerprint(shop_faqs, [])) is False
    fresh = KnowledgeIndex(tmp_path)
    assert fresh.load(knowledge_fingerprint(shop_faqs[:2], [])) is True
    assert fresh.faq_count == 2


def test_an_index_with_nothing_to_match_round_trips(tmp_path: Path) -> None:
    faqs = [FaqEntry("x", "的了吗", "A")]  # indexed, but no tokens: no bm25s index to save
    KnowledgeIndex(tmp_path).rebuild(faqs, [])
    loaded = KnowledgeIndex(tmp_path)
    assert loaded.load(knowledge_fingerprint(faqs, [])) is True
    assert (loaded.faq_count, loaded.match_faq("的了吗")) == (1, [])


@pytest.mark.parametrize("damage", ["delete-files", "delete-folder", "break-manifest"])
def test_a_damaged_index_is_not_loaded(
    tmp_path: Path, shop_faqs: list[FaqEntry], shop_chunks: list[Chunk], damage: str
) -> None:
    KnowledgeIndex(tmp_path).rebuild(shop_faqs, shop_chunks)
    fingerprint = knowledge_fingerprint(shop_faqs, shop_chunks)
    [folder] = tmp_path.glob("index-*")
    if damage == "delete-files":
        for path in (folder / "faq").iterdir():
            path.unlink()
    elif damage == "delete-folder":
        shutil.rmtree(folder / "chunks")
    else:
        (folder / "manifest.json").write_text("{broken", "utf-8")
    index = KnowledgeIndex(tmp_path)
    assert index.load(fingerprint) is False
    assert index.fingerprint is None


def test_without_an_index_dir_nothing_loads(shop_faqs: list[FaqEntry]) -> None:
    index = KnowledgeIndex(None)
    index.rebuild(shop_faqs, [])
    assert index.load(knowledge_fingerprint(shop_faqs, [])) is False
    assert index.match_faq("包邮吗")[0].entry.id == "zh-shipping-fee"  # still serving


def test_fingerprint_changes_with_the_knowledge(
    shop_faqs: list[FaqEntry], shop_chunks: list[Chunk]
) -> None:
    fingerprint = knowledge_fingerprint(shop_faqs, shop_chunks)
    assert fingerprint == knowledge_fingerprint(list(shop_faqs), list(shop_chunks))
    edited = [replace(shop_faqs[0], answer="改了"), *shop_faqs[1:]]
    assert knowledge_fingerprint(edited, shop_chunks) != fingerprint
    assert knowledge_fingerprint(shop_faqs, shop_chunks[:-1]) != fingerprint


def test_manifest_keeps_entries_and_chunks(tmp_path: Path, shop_faqs: list[FaqEntry]) -> None:
    KnowledgeIndex(tmp_path).rebuild(shop_faqs[:1], [])
    [folder] = tmp_path.glob("index-*")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    assert manifest["faqs"][0]["id"] == "zh-ship-time"
    assert manifest["chunks"] == []


def test_queries_during_rebuilds_see_a_whole_index(shop_faqs: list[FaqEntry]) -> None:
    chinese = [entry for entry in shop_faqs if entry.id.startswith("zh-")]
    english = [entry for entry in shop_faqs if entry.id.startswith("en-")]
    index = KnowledgeIndex()
    index.rebuild(chinese, [])
    errors: list[BaseException] = []
    answered: list[str] = []  # what readers found: both indexes must have been seen
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                zh, en = (
                    index.match_faq("订单多久发货"),
                    index.match_faq("How long does shipping take"),
                )
                # Each query sees one whole index: the Chinese one or the English one.
                assert [h.entry.id for h in zh][:1] in ([], ["zh-ship-time"])
                assert [h.entry.id for h in en][:1] in ([], ["en-ship-time"])
                answered.extend(h.entry.id for h in (*zh[:1], *en[:1]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for round_number in range(6):
        entries, expected = (
            (english, "en-ship-time") if round_number % 2 == 0 else (chinese, "zh-ship-time")
        )
        index.rebuild(entries, [])
        # Wait until a reader has seen this index (no guess at how threads are scheduled).
        start = len(answered)
        deadline = time.monotonic() + 30
        while expected not in answered[start:] and time.monotonic() < deadline and not errors:
            time.sleep(0.001)
    stop.set()
    for thread in readers:
        thread.join()
    assert errors == []
    assert {"zh-ship-time", "en-ship-time"} <= set(answered)
