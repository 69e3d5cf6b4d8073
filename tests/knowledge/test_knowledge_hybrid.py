"""Hybrid retrieval: BM25 and dense evidence fused into one relevance the thresholds trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.appfile.embedding_config import EmbeddingConfig, RetrievalConfig
from kefu.core.errors import ConfigError, InvalidParam
from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import KnowledgeIndex, knowledge_fingerprint
from tests.knowledge._fakes import ConceptEmbedder, KeywordReranker

FAQ_THRESHOLD, PASSAGE_THRESHOLD = 0.55, 0.3
FAQS = [
    FaqEntry("ship", "How long does shipping take?", "3-5 days.", ("When is my order shipped",)),
    FaqEntry("refund", "How do I get a refund?", "Within 7 days.", ("Refund policy",)),
    FaqEntry("login", "I forgot my password", "Reset it on the login page."),
    FaqEntry("address", "Can I change my delivery address?", "Before it ships."),
    FaqEntry("zh-ship", "订单多久发货？", "48 小时内。", ("付款后几天发货",)),
]
CHUNKS = [
    Chunk("c0", "shipping.md", "Shipping", 0, "Parcels arrive in 3-5 days.", "Shipping"),
    Chunk("c1", "returns.md", "Returns", 0, "Refund money goes back in 7 days.", "Returns"),
    Chunk("c2", "account.md", "Account", 0, "Reset the password from the login page.", ""),
    Chunk("c3", "shipping.md", "Shipping", 1, "偏远地区配送需要更久。", "配送"),
]
# The fake model's cosines are lower than a real one's: calibrate for it.
CONFIG = RetrievalConfig(dense_floor=0.2, dense_ceiling=0.9)


def hybrid(**changes: object) -> KnowledgeIndex:
    index = KnowledgeIndex(embedder=ConceptEmbedder(), retrieval=CONFIG.model_copy(update=changes))
    index.rebuild(FAQS, CHUNKS)
    return index


@pytest.fixture(scope="module")
def lexical() -> KnowledgeIndex:
    index = KnowledgeIndex()
    index.rebuild(FAQS, CHUNKS)
    return index


def test_a_paraphrase_without_shared_words_is_found_only_with_dense(
    lexical: KnowledgeIndex,
) -> None:
    query = "where is my parcel, will it arrive"
    assert lexical.match_faq(query) == []
    [best, *_] = hybrid().match_faq(query)
    assert best.entry.id == "ship"
    assert best.matched in ("How long does shipping take?", "When is my order shipped")
    assert 0 < best.relevance <= 1


def test_hybrid_keeps_exact_questions_sure_and_junk_below_the_threshold() -> None:
    index = hybrid()
    [exact, *_] = index.match_faq("How do I get a refund?")
    assert exact.entry.id == "refund" and exact.relevance >= 0.95
    for junk in ("What is the weather in Paris", "tell me a joke about cats"):
        hits = index.match_faq(junk)
        assert not hits or hits[0].relevance < FAQ_THRESHOLD, junk


def test_weighted_relevance_needs_both_retrievers_to_agree() -> None:
    # No shared word: the weighted relevance is dense_weight times the dense relevance, so
    # a one-sided match stays below the FAQ threshold (a candidate, not an answer).
    query = "where is my parcel, will it arrive"
    [weighted, *_] = hybrid(dense_weight=0.5).match_faq(query)
    [dense, *_] = hybrid(retrievers="dense").match_faq(query)
    assert weighted.entry.id == dense.entry.id == "ship"
    assert weighted.relevance == pytest.approx(0.5 * dense.relevance, abs=1e-4)
    assert weighted.relevance < FAQ_THRESHOLD


def test_rrf_ranks_by_fused_rank_and_takes_the_larger_relevance() -> None:
    query = "when is my parcel shipped, will it arrive"
    hits = hybrid(fusion="rrf").match_faq(query, top_k=3)
    assert hits[0].entry.id == "ship"
    assert hits[0].score > hits[1].score  # the RRF score orders the hits
    [dense] = [h for h in hybrid(retrievers="dense").match_faq(query, 5) if h.entry.id == "ship"]
    [lexical] = [h for h in hybrid(dense_weight=0.0).match_faq(query, 5) if h.entry.id == "ship"]
    assert hits[0].relevance == max(dense.relevance, lexical.relevance)


def test_hits_are_sorted_limited_and_top_k_zero_returns_nothing() -> None:
    index = hybrid()
    hits = index.match_faq("refund shipping password", top_k=2)
    assert len(hits) == 2 and hits[0].relevance >= hits[1].relevance
    assert index.match_faq("refund", top_k=0) == []
    assert index.search("refund", top_k=0) == []
    assert len({hit.entry.id for hit in index.match_faq("shipping", top_k=5)}) == len(
        index.match_faq("shipping", top_k=5)
    )


def test_passages_hybrid_and_thresholds() -> None:
    index = hybrid()
    [best, *_] = index.search("when will my package arrive")
    assert best.chunk.id == "c0" and best.relevance >= PASSAGE_THRESHOLD
    assert all(hit.relevance < PASSAGE_THRESHOLD for hit in index.search("weather in Paris"))


def test_passage_filters_by_document_and_language(lexical: KnowledgeIndex) -> None:
    for index in (lexical, hybrid()):
        hits = index.search("shipping days 配送", top_k=5, filters={"document_id": "shipping.md"})
        assert hits and {hit.chunk.document_id for hit in hits} == {"shipping.md"}
        hits = index.search("配送 shipping", top_k=5, filters={"language": "zh"})
        assert [hit.chunk.id for hit in hits] == ["c3"]
        with pytest.raises(InvalidParam, match="document_id and language"):
            index.search("shipping", filters={"tags": "x"})


def test_a_reranker_rescores_and_the_threshold_applies_after_it() -> None:
    reranker = KeywordReranker("password")
    index = KnowledgeIndex(embedder=ConceptEmbedder(), retrieval=CONFIG, reranker=reranker)
    index.rebuild(FAQS, CHUNKS)
    hits = index.search("login password refund money", top_k=3)
    assert hits[0].chunk.id == "c2" and hits[0].relevance == 0.9
    assert len(reranker.seen[-1]) >= 2  # the fused candidates went to the reranker
    kept = index.search("login password refund money", top_k=3, min_relevance=0.5)
    assert [hit.chunk.id for hit in kept] == ["c2"]


def test_a_reranker_works_on_the_lexical_index_too() -> None:
    index = KnowledgeIndex(reranker=KeywordReranker("money"))
    index.rebuild(FAQS, CHUNKS)
    assert index.search("refund login password", top_k=1)[0].chunk.id == "c1"


def test_queries_in_languages_the_model_lacks_stay_lexical(lexical: KnowledgeIndex) -> None:
    embedder = ConceptEmbedder()
    config = CONFIG.model_copy(update={"embedding": EmbeddingConfig(languages=["en"])})
    index = KnowledgeIndex(embedder=embedder, retrieval=config)
    index.rebuild(FAQS, CHUNKS)
    calls = embedder.calls
    for query in ("付款后几天发货", "偏远地区配送"):
        assert index.match_faq(query) == lexical.match_faq(query)
        assert index.search(query) == lexical.search(query)
    assert embedder.calls == calls  # no query was embedded
    assert index.match_faq("where is my parcel, will it arrive")[0].entry.id == "ship"


def test_the_query_is_embedded_once_per_turn() -> None:
    embedder = ConceptEmbedder()
    index = KnowledgeIndex(embedder=embedder, retrieval=CONFIG)
    index.rebuild(FAQS, CHUNKS)
    calls = embedder.calls
    index.match_faq("where is my parcel")
    index.search("where is my parcel")
    assert embedder.calls == calls + 1


def test_dense_retrieval_needs_an_embedder() -> None:
    with pytest.raises(ConfigError, match="needs an embedder"):
        KnowledgeIndex(retrieval=RetrievalConfig(retrievers="hybrid"))
    with pytest.raises(ConfigError, match="dense_ceiling"):
        KnowledgeIndex(
            embedder=ConceptEmbedder(),
            retrieval=RetrievalConfig(dense_floor=0.8, dense_ceiling=0.5),
        )
    assert KnowledgeIndex(embedder=ConceptEmbedder()).retrievers == "hybrid"
    lexical = KnowledgeIndex(
        embedder=ConceptEmbedder(), retrieval=RetrievalConfig(retrievers="lexical")
    )
    assert lexical.embedder is None and lexical.embedder_name is None


def test_an_empty_knowledge_base_matches_nothing() -> None:
    index = KnowledgeIndex(embedder=ConceptEmbedder(), retrieval=CONFIG)
    index.rebuild([], [])
    assert index.match_faq("refund") == [] and index.search("refund") == []


def test_vectors_persist_beside_the_lexicon_and_reload(tmp_path: Path) -> None:
    built = KnowledgeIndex(tmp_path, embedder=ConceptEmbedder(), retrieval=CONFIG)
    built.rebuild(FAQS, CHUNKS)
    [folder] = [p for p in tmp_path.iterdir() if p.name.startswith("index-")]
    assert (folder / "faq_vectors").is_dir() and (folder / "chunk_vectors").is_dir()
    embedder = ConceptEmbedder()
    loaded = KnowledgeIndex(tmp_path, embedder=embedder, retrieval=CONFIG)
    # The fingerprint an app asks for (kefu.engine.app: with the embedder's name) is the
    # one the rebuild saved under, so the next start loads instead of re-embedding.
    fingerprint = knowledge_fingerprint(FAQS, CHUNKS, loaded.embedder_name)
    assert built.fingerprint == fingerprint
    assert loaded.load(fingerprint) is True
    assert embedder.calls == 0  # nothing was re-embedded
    query = "where is my parcel, will it arrive"
    assert loaded.match_faq(query) == built.match_faq(query)
    assert loaded.search(query) == built.search(query)

    # Another model, or none, never loads these vectors: the embedder is part of the key.
    other = KnowledgeIndex(tmp_path, embedder=ConceptEmbedder(name="fake:other"))
    assert other.load(fingerprint) is False
    assert KnowledgeIndex(tmp_path).load(fingerprint) is False


def test_damaged_vectors_are_rebuilt_not_trusted(tmp_path: Path) -> None:
    KnowledgeIndex(tmp_path, embedder=ConceptEmbedder(), retrieval=CONFIG).rebuild(FAQS, CHUNKS)
    [folder] = [p for p in tmp_path.iterdir() if p.name.startswith("index-")]
    for matrix in (folder / "chunk_vectors").glob("vectors-*.npy"):
        matrix.write_bytes(b"garbage")
    fresh = KnowledgeIndex(tmp_path, embedder=ConceptEmbedder(), retrieval=CONFIG)
    assert fresh.load(knowledge_fingerprint(FAQS, CHUNKS)) is False


def test_fingerprint_includes_the_embedder_name() -> None:
    plain = knowledge_fingerprint(FAQS, CHUNKS)
    assert knowledge_fingerprint(FAQS, CHUNKS, None) == plain
    assert knowledge_fingerprint(FAQS, CHUNKS, "local:minilm") != plain
    assert knowledge_fingerprint(FAQS, CHUNKS, "local:minilm") != knowledge_fingerprint(
        FAQS, CHUNKS, "openai:bge-m3"
    )
