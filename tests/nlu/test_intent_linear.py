"""The server's scoring path (kefu.nlu.intent.linear) gives the numbers training's sparse
matrices would, with and without sentence vectors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from kefu.appfile.nlu_config import IntentSettings
from kefu.knowledge.tokenizer import has_chinese
from kefu.nlu.intent import IntentClassifier, IntentExample
from kefu.nlu.intent.features import TextFeatures, char_ngrams, normalize
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


def _reference_char_ngrams(text: str) -> list[str]:
    """char_ngrams as first written: one slice per gram (scikit-learn's char_wb)."""
    grams: list[str] = []
    for word in normalize(text).split():
        longest = 2 if has_chinese(word) else 4
        padded = f" {word} "
        for size in range(1, longest + 1):
            if size >= len(padded):
                grams.append(padded)
                break
            grams.extend(padded[i : i + size] for i in range(len(padded) - size + 1))
    return grams


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab退款貨 \t，!１")) | st.text())
def test_char_ngrams_come_out_as_one_slice_per_gram(text: str) -> None:
    assert char_ngrams(text) == _reference_char_ngrams(text)


def _reference_row(features: TextFeatures, text: str) -> tuple[np.ndarray, np.ndarray]:
    """ngram_row block by block, each block's numbers worked out on their own."""
    columns_of, values_of = [], []
    for block in features._blocks:
        counts = Counter(map(block.vocabulary.get, block.analyzer(text)))
        counts.pop(None, None)
        if not counts:
            continue
        columns = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (np.log(tf) + 1.0) * block.idf[columns]
        values *= np.float32(block.weight) / np.sqrt(np.square(values).sum())
        columns_of.append(columns + np.int32(block.offset))
        values_of.append(values)
    if not columns_of:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    return np.concatenate(columns_of), np.concatenate(values_of)


def test_an_ngram_row_is_bit_for_bit_the_per_block_computation() -> None:
    settings = IntentSettings(embeddings="off", tagger_min_examples=0)
    features = IntentClassifier.train(_examples(), settings)._features
    assert len(features._blocks) == 4  # char, word, part of speech, segmented
    for text in [*QUERIES, "", "退款 退款 refund refund", "查订单 order_id 到哪了 where is it"]:
        columns, values = features.ngram_row(text)
        expected_columns, expected_values = _reference_row(features, text)
        assert columns.tolist() == expected_columns.tolist()
        assert values.tobytes() == expected_values.tobytes()


def test_a_decision_orders_and_breaks_ties_as_a_stable_argsort() -> None:
    settings = IntentSettings(embeddings="off", tagger_min_examples=0)
    classifier = IntentClassifier.train(_examples(), settings)
    classes = classifier._classes
    in_scope = np.array([label != "oos" for label in classes])
    rng = np.random.default_rng(0)
    for _ in range(200):
        probabilities = rng.choice([0.05, 0.1, 0.2, 0.3], size=len(classes)).astype(np.float32)
        probabilities /= probabilities.sum()
        inside = np.flatnonzero(in_scope)
        order = inside[np.argsort(-probabilities[inside], kind="stable")][:5]
        decided = classifier._decide(probabilities)
        assert [label for label, _ in decided.ranking] == [classes[i] for i in order]
        assert decided.confidence == float(probabilities[order[0]])
        won_by_oos = not in_scope[int(np.argmax(probabilities))]
        assert (decided.label is None) == (won_by_oos or decided.confidence < classifier.threshold)


def char_block(features: Any) -> Any:
    return next(block for block in features._blocks if block.analyzer is char_ngrams)


def test_an_ngram_row_from_cached_words_is_the_same_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Character n-gram columns are kept per word (a bounded cache, cleared when full and on
    refitting): rows from it are bit for bit those worked out from the text."""
    from kefu.nlu.intent import features as features_module

    monkeypatch.setattr(features_module, "_WORD_CACHE_SIZE", 5)
    settings = IntentSettings(embeddings="off", tagger_min_examples=0)
    features = IntentClassifier.train(_examples(), settings)._features
    texts = [*QUERIES, "refund refund please", "where is my refund", "退款 到哪了 refund"]
    for _ in range(2):  # the second round reads words the first one cached (or cleared)
        for text in texts:
            columns, values = features.ngram_row(text)
            expected_columns, expected_values = _reference_row(features, text)
            assert columns.tolist() == expected_columns.tolist()
            assert values.tobytes() == expected_values.tobytes()
            assert 0 < len(char_block(features).word_columns) <= 5
    features.fit_transform(["a new vocabulary", "another one"])
    assert char_block(features).word_columns == {}
