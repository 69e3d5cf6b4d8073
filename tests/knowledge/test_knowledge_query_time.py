"""Query-time model calls: awaited, bounded by a deadline, degrading to lexical retrieval
(or the fused order) with a note when the embedding or rerank server fails or hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.errors import ProviderBadResponse, ProviderTimeout
from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import KnowledgeIndex
from kefu.knowledge.embedders import OpenAIEmbedder
from kefu.knowledge.query_time import Cooldown, Degraded, ProviderGuard
from kefu.knowledge.rerank import OpenAIReranker
from tests.knowledge._fakes import ConceptEmbedder, KeywordReranker
from tests.knowledge._model_server import EMBEDDINGS, RERANK, ModelServer, serving_models

FAQS = [
    FaqEntry("ship", "How long does shipping take?", "3-5 days.", ("When is my order shipped",)),
    FaqEntry("refund", "How do I get a refund?", "Within 7 days."),
    FaqEntry("login", "I forgot my password", "Reset it on the login page."),
]
CHUNKS = [
    Chunk("c0", "d", "Shipping", 0, "Parcels arrive in 3-5 days after shipping.", "Shipping"),
    Chunk("c1", "d", "Returns", 1, "Refund money goes back in 7 days.", "Returns"),
    Chunk("c2", "d", "Account", 2, "Reset the password from the login page.", "Account"),
]
CONFIG = RetrievalConfig(dense_floor=0.2, dense_ceiling=0.9)
PARAPHRASE = "where is my parcel, will it arrive"  # found by the embedder only


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with serving_models() as model:
        yield model


@pytest.fixture
def lexical() -> KnowledgeIndex:
    index = KnowledgeIndex()
    index.rebuild(FAQS, CHUNKS)
    return index


@pytest.fixture
async def remote(server: ModelServer) -> AsyncIterator[KnowledgeIndex]:
    """An index over the served embedder and reranker (built while the server answers)."""
    index = KnowledgeIndex(
        embedder=OpenAIEmbedder(server.url, "m", retries=1),
        reranker=OpenAIReranker(server.url, "r", retries=1),
        retrieval=CONFIG,
        query_deadline_s=0.5,
    )
    index.rebuild(FAQS, CHUNKS)
    yield index
    await index.aclose()


class Ticker:
    """Counts event-loop turns every 10 ms: proof the loop is free while a call waits."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def stop(self) -> int:
        self._task.cancel()
        return self.ticks


async def test_the_async_clients_answer_what_the_blocking_ones_do(server: ModelServer) -> None:
    embedder = OpenAIEmbedder(server.url, "m", batch_size=2)
    reranker = OpenAIReranker(server.url, "r")
    texts = ["refund money", "parcel", "password"]
    try:
        assert np.allclose(await embedder.aembed(texts), embedder.embed(texts))
        assert [len(body["input"]) for body in server.requests[-2:]] == [2, 1]  # batched
        query, documents = "refund my money", ["login page", "refund money back"]
        assert await reranker.arerank(query, documents) == reranker.rerank(query, documents)
        assert await reranker.arerank(query, []) == []
    finally:
        await embedder.aclose()
        await reranker.aclose()


async def test_async_calls_retry_then_map_failures_onto_provider_errors(
    server: ModelServer,
) -> None:
    embedder = OpenAIEmbedder(server.url, "m", retries=2)
    try:
        server.faults = [(503, {"error": "loading"}), (429, {"error": "slow down"})]
        assert (await embedder.aembed(["parcel"])).shape == (1, 16)
        assert server.calls(EMBEDDINGS) == 3
        server.faults = [(400, {"error": "bad input"})]
        with pytest.raises(ProviderBadResponse, match="answered 400"):
            await embedder.aembed(["parcel"])
        server.broken[EMBEDDINGS] = (500, {"error": "boom"})
        with pytest.raises(ProviderBadResponse, match="answered 500"):
            await embedder.aembed(["parcel"])
        assert server.calls(EMBEDDINGS) == 4 + 3  # the 400 is not retried, the 500 twice
    finally:
        await embedder.aclose()


async def test_a_hanging_embedder_leaves_the_loop_free_and_the_query_lexical(
    server: ModelServer, remote: KnowledgeIndex, lexical: KnowledgeIndex
) -> None:
    assert remote.match_faq("will my package come soon")[0].entry.id == "ship"  # dense, up
    server.hanging.add(EMBEDDINGS)
    ticker = Ticker()
    started = time.monotonic()
    vector = await remote.query_vector(PARAPHRASE, deadline=remote.query_deadline())
    waited = time.monotonic() - started
    ticks = ticker.stop()
    assert server.hung.is_set()
    assert 0.45 <= waited < 1.0  # the 0.5 s deadline, not the 30 s request timeout
    assert ticks >= 20  # the loop kept turning every 10 ms while the request hung
    assert vector.vector is None
    assert str(vector.degraded) == "embedder unavailable: timeout → lexical"
    assert remote.match_faq(PARAPHRASE, vector=vector) == lexical.match_faq(PARAPHRASE)

    # The next turn does not wait for the same server: it is skipped while cooling down.
    calls = server.calls(EMBEDDINGS)
    started = time.monotonic()
    again = await remote.query_vector("how do I get my refund", deadline=remote.query_deadline())
    assert time.monotonic() - started < 0.1
    assert str(again.degraded) == "embedder unavailable: timeout (cooling down) → lexical"
    assert server.calls(EMBEDDINGS) == calls


async def test_an_embedder_answering_500_degrades_with_what_it_said(
    server: ModelServer, remote: KnowledgeIndex
) -> None:
    server.broken[EMBEDDINGS] = (500, {"error": "model crashed"})
    calls = server.calls(EMBEDDINGS)  # indexing's
    vector = await remote.query_vector(PARAPHRASE, deadline=remote.query_deadline())
    assert vector.vector is None and vector.degraded is not None
    note = str(vector.degraded)
    assert note.startswith(f"embedder unavailable: {server.url}/embeddings answered 500")
    assert "model crashed" in note and note.endswith("→ lexical")
    assert server.calls(EMBEDDINGS) == calls + 2  # one retry, then lexical


@pytest.mark.parametrize("fault", ["broken", "hanging"])
async def test_a_failing_reranker_keeps_the_fused_order(
    server: ModelServer, remote: KnowledgeIndex, fault: str
) -> None:
    query = "refund money back password"
    vector = await remote.query_vector(query, deadline=remote.query_deadline())
    assert vector.vector is not None and vector.degraded is None
    reranked = await remote.asearch(query, 3, vector=vector, deadline=remote.query_deadline())
    assert reranked.degraded is None
    fused = KnowledgeIndex(embedder=ConceptEmbedder(dim=16), retrieval=CONFIG)
    fused.rebuild(FAQS, CHUNKS)
    if fault == "broken":
        server.broken[RERANK] = (503, {"error": "overloaded"})
    else:
        server.hanging.add(RERANK)
    started = time.monotonic()
    found = await remote.asearch(query, 3, vector=vector, deadline=remote.query_deadline())
    assert time.monotonic() - started < 1.0
    assert found.hits == fused.search(query, 3)  # the fused order and relevance
    assert found.hits != reranked.hits
    assert found.degraded is not None
    assert str(found.degraded).startswith("reranker unavailable: ")
    assert str(found.degraded).endswith(" → fused order")
    if fault == "hanging":
        assert found.degraded.reason == "timeout"


async def test_the_awaited_path_finds_what_the_blocking_path_finds() -> None:
    embedder, reranker = ConceptEmbedder(), KeywordReranker("password")
    index = KnowledgeIndex(embedder=embedder, retrieval=CONFIG, reranker=reranker)
    index.rebuild(FAQS, CHUNKS)
    for query in (PARAPHRASE, "login password refund money", "How do I get a refund?"):
        vector = await index.query_vector(query, deadline=index.query_deadline())
        assert vector.vector is not None and vector.degraded is None
        assert index.match_faq(query, vector=vector) == index.match_faq(query)
        found = await index.asearch(query, 2, vector=vector, deadline=index.query_deadline())
        assert found.degraded is None and found.hits == index.search(query, 2)
    calls = embedder.calls
    await index.query_vector(PARAPHRASE, deadline=index.query_deadline())
    assert embedder.calls == calls  # the turn's vector is remembered


async def test_a_reranker_alone_is_awaited_over_lexical_candidates() -> None:
    reranker = KeywordReranker("money")
    index = KnowledgeIndex(reranker=reranker)
    index.rebuild(FAQS, CHUNKS)
    query = "refund login password"
    vector = await index.query_vector(query, deadline=index.query_deadline())
    assert vector.vector is None and vector.degraded is None  # no embedder: nothing to wait
    found = await index.asearch(query, 1, vector=vector, deadline=index.query_deadline())
    assert [hit.chunk.id for hit in found.hits] == ["c1"] and found.hits[0].relevance == 0.9
    assert found.hits == index.search(query, 1)


async def test_no_call_for_a_language_the_model_lacks_and_no_mixing_queries() -> None:
    embedder = ConceptEmbedder()
    english = CONFIG.embedding.model_copy(update={"languages": ["en"]})
    config = CONFIG.model_copy(update={"embedding": english})
    index = KnowledgeIndex(embedder=embedder, retrieval=config)
    index.rebuild(FAQS, CHUNKS)
    calls = embedder.calls
    vector = await index.query_vector("怎么退款", deadline=index.query_deadline())
    assert vector.vector is None and vector.degraded is None and embedder.calls == calls
    other = await index.query_vector(PARAPHRASE, deadline=index.query_deadline())
    with pytest.raises(ValueError, match="another query"):
        index.match_faq("refund", vector=other)


async def test_the_guard_notes_failures_cools_down_and_tries_again() -> None:
    now = [0.0]
    guard = ProviderGuard("embedder", "lexical", Cooldown(10.0, clock=lambda: now[0]))
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        raise ProviderTimeout("embeddings: http://x timed out")

    async def working() -> int:
        nonlocal calls
        calls += 1
        return 7

    later = 100.0  # the turn's deadline
    assert await guard.call(failing, deadline=later) == Degraded("embedder", "timeout", "lexical")
    now[0] = 9.9
    cooling = Degraded("embedder", "timeout (cooling down)", "lexical")
    assert await guard.call(working, deadline=later) == cooling
    assert calls == 1
    now[0] = 10.0
    assert await guard.call(working, deadline=later) == 7
    assert await guard.call(working, deadline=later) == 7 and calls == 3

    # A turn whose time an earlier call used up skips the provider, without a cool-down.
    skipped = Degraded("embedder", "no time left in this turn", "lexical")
    assert await guard.call(working, deadline=now[0]) == skipped
    assert await guard.call(working, deadline=later) == 7 and calls == 4
