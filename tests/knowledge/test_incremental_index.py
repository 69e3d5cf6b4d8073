"""Incremental index builds: a changed document re-embeds only its chunks, a deleted one
leaves every index, unchanged knowledge embeds nothing, another encoder starts afresh, and
an index saved before the embedding cache existed still loads (and seeds the cache)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import KnowledgeIndex, knowledge_fingerprint
from kefu.knowledge.embedders import Embedder, use_available
from kefu.knowledge.embedders.cache import EmbeddingCache, embedder_identity
from kefu.knowledge.embedders.multilingual import shared_use
from tests.knowledge._fakes import ConceptEmbedder

pytestmark = pytest.mark.skipif(not use_available(), reason="the multilingual encoder is absent")

HYBRID = RetrievalConfig(retrievers="hybrid")


class CountingEmbedder:
    """A real embedder (USE multilingual v3) that records every text it is asked to embed.

    Not a ``UseEmbedder`` itself, so the index embeds passages with it too (as it does with
    any encoder that is not a sentence encoder)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.calls = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def reset(self) -> None:
        self.texts.clear()
        self.calls = 0


@pytest.fixture
def counting() -> CountingEmbedder:
    return CountingEmbedder(shared_use())


def _text(chunk: Chunk) -> str:
    return f"{chunk.heading}\n{chunk.content}"


def _forms(faqs: Sequence[FaqEntry]) -> list[str]:
    return [form for entry in faqs for form in dict.fromkeys((entry.question, *entry.variants))]


def _index(folder: Path, embedder: Embedder) -> KnowledgeIndex:
    return KnowledgeIndex(folder, embedder=embedder, retrieval=HYBRID)


def _rewritten(chunks: list[Chunk], document_id: str, suffix: str) -> list[Chunk]:
    """The knowledge after ``document_id`` was edited: new ids (as the store gives them) and
    new text for its chunks, the others untouched."""
    return [
        dataclasses.replace(c, id=f"{c.id}-v2", content=f"{c.content} {suffix}")
        if c.document_id == document_id
        else c
        for c in chunks
    ]


def test_changing_one_document_reembeds_only_its_chunks(
    tmp_path: Path,
    counting: CountingEmbedder,
    shop_faqs: list[FaqEntry],
    shop_chunks: list[Chunk],
) -> None:
    index = _index(tmp_path, counting)
    first = index.rebuild(shop_faqs, shop_chunks)
    everything = _forms(shop_faqs) + [_text(c) for c in shop_chunks]
    # besides: the section headings the passage calibration asks (each text once)
    headings = {c.heading.rsplit(" > ", 1)[-1] for c in shop_chunks}
    assert len(counting.texts) == len(set(counting.texts))
    assert set(everything) <= set(counting.texts)
    assert set(counting.texts) - set(everything) <= headings
    assert (first.embedded, first.reused, first.tokenized) == (
        len(set(everything)),
        len(everything) - len(set(everything)),
        len(shop_chunks),
    )

    counting.reset()
    edited = _rewritten(shop_chunks, "shipping", "Orders over 99 yuan ship by SF Express.")
    report = index.rebuild(shop_faqs, edited)
    changed = [_text(c) for c in edited if c.document_id == "shipping"]
    assert sorted(counting.texts) == sorted(changed)  # nothing else went to the model
    assert counting.calls == 1  # one batch for the document
    assert report.embedded == len(changed) == 3
    assert report.reused == len(everything) - len(changed)
    assert report.tokenized == len(changed)  # the other chunks' tokens were kept
    hits = index.search("SF Express", top_k=3)
    assert hits and hits[0].chunk.document_id == "shipping"
    assert "SF Express" in hits[0].chunk.content


def test_deleting_a_document_removes_its_chunks_from_every_index(
    tmp_path: Path,
    counting: CountingEmbedder,
    shop_faqs: list[FaqEntry],
    shop_chunks: list[Chunk],
) -> None:
    index = _index(tmp_path, counting)
    index.rebuild(shop_faqs, shop_chunks)
    query = "How long does the warranty last?"
    assert any(h.chunk.document_id == "warranty" for h in index.search(query, top_k=5))

    counting.reset()
    kept = [c for c in shop_chunks if c.document_id != "warranty"]
    report = index.rebuild(shop_faqs, kept)
    assert counting.texts == [] and report.embedded == 0 and report.tokenized == 0
    assert index.chunk_count == len(kept)
    snapshot = index._snapshot
    assert snapshot.chunk_vectors is not None and snapshot.chunk_vectors.count == len(kept)
    assert len(snapshot.chunks.lexicon.doc_tokens) == len(kept)
    for hit in index.search(query, top_k=10):
        assert hit.chunk.document_id != "warranty"
    assert index.search(query, top_k=5, filters={"document_id": "warranty"}) == []
    # The cache forgets the deleted chunks: on disk it holds exactly the knowledge indexed
    # (and the headings of the kept sections, asked by the passage calibration).
    saved = EmbeddingCache.load(tmp_path, counting)
    headings = {c.heading.rsplit(" > ", 1)[-1] for c in kept}
    indexed = set(_forms(shop_faqs) + [_text(c) for c in kept])
    assert len(indexed) <= len(saved) <= len(indexed | headings)


def test_deleting_an_faq_file_removes_its_entries(
    tmp_path: Path, counting: CountingEmbedder, shop_faqs: list[FaqEntry]
) -> None:
    index = _index(tmp_path, counting)
    index.rebuild(shop_faqs, [])
    gone = shop_faqs[0]
    assert index.match_faq(gone.question, top_k=1)[0].entry.id == gone.id
    counting.reset()
    report = index.rebuild(shop_faqs[1:], [])
    assert report.embedded == 0 and counting.calls == 0
    assert all(hit.entry.id != gone.id for hit in index.match_faq(gone.question, top_k=5))
    assert index.faq_count == len(shop_faqs) - 1


def test_unchanged_knowledge_embeds_nothing_even_after_a_restart(
    tmp_path: Path,
    counting: CountingEmbedder,
    shop_faqs: list[FaqEntry],
    shop_chunks: list[Chunk],
) -> None:
    _index(tmp_path, counting).rebuild(shop_faqs, shop_chunks)
    # A re-import stores the same chunks under new ids: a new fingerprint, the same texts.
    reimported = [dataclasses.replace(c, id=f"{c.id}-again") for c in shop_chunks]
    counting.reset()
    restarted = _index(tmp_path, counting)
    assert not restarted.load(knowledge_fingerprint(shop_faqs, reimported, counting.name))
    report = restarted.rebuild(shop_faqs, reimported)
    assert counting.texts == []
    assert report.embedded == 0
    assert report.tokenized == 0  # the tokens were saved beside the index too
    assert report.reused == len(_forms(shop_faqs)) + len(shop_chunks)
    again = restarted.rebuild(shop_faqs, reimported)  # and in the same process
    assert (again.embedded, again.tokenized, counting.calls) == (0, 0, 0)
    assert restarted.search("return policy", top_k=1)


def test_switching_the_encoder_invalidates_the_cache(
    tmp_path: Path, shop_faqs: list[FaqEntry], shop_chunks: list[Chunk]
) -> None:
    first = ConceptEmbedder(dim=64, name="fake:model")
    _index(tmp_path, first).rebuild(shop_faqs, shop_chunks)
    old_folder = EmbeddingCache.folder(tmp_path, embedder_identity(first))
    assert old_folder.is_dir()

    # Same name, another dimension: nothing reused.
    resized = ConceptEmbedder(dim=32, name="fake:model")
    report = _index(tmp_path, resized).rebuild(shop_faqs, shop_chunks)
    assert report.embedded == len(set(_forms(shop_faqs) + [_text(c) for c in shop_chunks]))
    assert not old_folder.exists()  # the other encoder's vectors are gone from disk

    # Another model of the same dimension: nothing reused either.
    other = ConceptEmbedder(dim=32, name="fake:other")
    assert _index(tmp_path, other).rebuild(shop_faqs, shop_chunks).embedded == report.embedded
    # A cache read for a model it was not made for is empty, never wrong.
    assert len(EmbeddingCache.load(tmp_path, resized)) == 0


def test_an_index_saved_before_the_cache_still_loads_and_seeds_it(
    tmp_path: Path,
    counting: CountingEmbedder,
    shop_faqs: list[FaqEntry],
    shop_chunks: list[Chunk],
    caplog: pytest.LogCaptureFixture,
) -> None:
    built = _index(tmp_path, counting)
    built.rebuild(shop_faqs, shop_chunks)
    expected = [h.chunk.id for h in built.search("refund to my card", top_k=3)]
    # What the code before the cache left on disk: only the index folder (format 1).
    for folder in tmp_path.glob("embeddings-*"):
        shutil.rmtree(folder)
    (old,) = tmp_path.glob("index-*")
    (old / "calibration.json").unlink()  # nor the FAQ calibration, which came later too
    (old / "faq_hubness.npy").unlink()  # nor the saved hubness (computed at load instead)
    manifest = json.loads((old / "manifest.json").read_text("utf-8"))
    assert manifest["format"] == 1
    assert sorted(p.name for p in old.iterdir()) == [
        "chunk_vectors",
        "chunks",
        "faq",
        "faq_vectors",
        "manifest.json",
    ]

    counting.reset()
    upgraded = _index(tmp_path, counting)
    with caplog.at_level("INFO", logger="kefu.knowledge.index"):
        assert upgraded.load(knowledge_fingerprint(shop_faqs, shop_chunks, counting.name))
    assert "kept in the embedding cache" in caplog.text
    assert [h.chunk.id for h in upgraded.search("refund to my card", top_k=3)] == expected
    # Nothing re-embedded to load: the query, and (one batch) the section headings the
    # passage calibration asks, fitted at load for an index saved before it existed.
    headings = {c.heading.rsplit(" > ", 1)[-1] for c in shop_chunks}
    assert counting.calls == 2
    assert set(counting.texts) - {"refund to my card"} <= headings

    counting.reset()
    edited = _rewritten(shop_chunks, "membership", "Gold members get free returns.")
    report = upgraded.rebuild(shop_faqs, edited)
    changed = [_text(c) for c in edited if c.document_id == "membership"]
    assert sorted(counting.texts) == sorted(changed)
    assert report.embedded == len(changed) == 1


def test_the_cache_round_trips_every_digest_and_ignores_a_damaged_file(tmp_path: Path) -> None:
    import hashlib

    embedder = ConceptEmbedder(dim=16, name="fake:cache")
    # a text whose digest ends in a NUL byte (a fixed-width bytes array would drop it)
    nul = next(t for t in map(str, range(10_000)) if hashlib.sha256(t.encode()).digest()[-1] == 0)
    texts = [nul, "parcel", "refund", "login"]
    cache = EmbeddingCache.for_embedder(embedder)
    vectors, stats = cache.embed(embedder, [*texts, "parcel"])
    assert (stats.embedded, stats.reused) == (4, 1)
    cache.save(tmp_path)
    loaded = EmbeddingCache.load(tmp_path, embedder)
    again, stats = loaded.embed(embedder, texts)
    assert (stats.embedded, stats.reused) == (0, 4)
    np.testing.assert_array_equal(again, vectors[:4])

    folder = EmbeddingCache.folder(tmp_path, embedder_identity(embedder))
    (folder / "vectors.npy").write_bytes(b"not numpy")
    assert len(EmbeddingCache.load(tmp_path, embedder)) == 0


def test_batches_on_several_threads_give_the_same_vectors_in_order() -> None:
    from kefu.knowledge.embedders.batch import embed_in_batches

    embedder = ConceptEmbedder(dim=32, name="fake:threads")
    texts = [f"parcel {n} refund {n * 7}" for n in range(50)]
    done: list[int] = []
    threaded = embed_in_batches(embedder, texts, batch_size=8, workers=3, on_progress=done.append)
    np.testing.assert_array_equal(threaded, embedder.embed(texts))
    assert sum(done) == len(texts) and len(done) == 7  # one report per batch of 8
