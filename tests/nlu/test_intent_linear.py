"""The server's scoring path (kefu.nlu.intent.linear) gives the numbers training's sparse
matrices would, with and without sentence vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kefu.appfile.nlu_config import IntentSettings
from kefu.nlu.intent import IntentClassifier, IntentExample
from kefu.nlu.intent.features import TextFeatures
from kefu.nlu.intent.linear import linear_scores
from tests.knowledge._fakes import ConceptEmbedder

FIXTURES = Path(__file__).parents[1] / "fixtures"
QUERIES = [
    "我的快递到哪了",
    "退貨要扣多少運費？",
    "refund please, the shoes are too small",
    "hi",
    "ꙮꙮ",  # only the padding space is a known gram
    "转人工 agent please 谢谢",
]


def _examples() -> list[IntentExample]:
    lines = (FIXTURES / "intents_train.jsonl").read_text(encoding="utf-8").splitlines()
    return [IntentExample(**json.loads(line)) for line in lines if line.strip()]


@pytest.mark.parametrize("embedder", [None, ConceptEmbedder()], ids=["n-grams", "with vectors"])
def test_linear_scores_match_the_sparse_product(embedder: ConceptEmbedder | None) -> None:
    settings = IntentSettings(embeddings="off", tagger_min_examples=0)
    classifier = IntentClassifier.train(_examples(), settings, embedder=embedder)
    features: TextFeatures = classifier._features
    weights, bias = classifier._weights, classifier._bias
    expected = np.asarray(features.transform(QUERIES) @ weights.T) + bias
    got = linear_scores(features, QUERIES, weights, bias)
    assert got.shape == (len(QUERIES), len(classifier._classes))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_an_ngram_row_holds_each_column_once_with_unit_blocks() -> None:
    settings = IntentSettings(embeddings="off", tagger_min_examples=0)
    features = IntentClassifier.train(_examples(), settings)._features
    columns, values = features.ngram_row("退款 退款 refund refund")
    assert len(set(columns.tolist())) == len(columns)
    assert columns.dtype == np.int32 and values.dtype == np.float32
    assert (values > 0).all()
    empty_columns, empty_values = features.ngram_row("")
    assert len(empty_columns) == len(empty_values) == 0
