"""The FAQ entry classifier: the intent classifier's features and SVM over an FAQ's forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kefu.knowledge.faq_classifier import TrainingSet
from kefu.nlu.faq_classifier import FaqEntryTrainer
from kefu.nlu.intent.features import TextFeatures

TOPICS = ["refund", "parcel", "password", "coupon", "invoice", "address"]


def _forms() -> tuple[list[str], np.ndarray, np.ndarray]:
    forms, entries = [], []
    for number, topic in enumerate(TOPICS):
        for pattern in ("where is my {}", "{} problem", "help with the {}", "my {} please"):
            forms.append(pattern.format(topic))
            entries.append(number)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(TOPICS), 16))
    vectors = centres[entries] + 0.1 * rng.normal(size=(len(forms), 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return forms, np.array(entries), vectors.astype(np.float32)


def test_it_learns_the_entries_from_their_forms() -> None:
    forms, entries, vectors = _forms()
    classifier = FaqEntryTrainer().train_one(forms, entries, vectors)
    assert classifier is not None and classifier.entries == len(TOPICS)
    # A new wording, with no vector help (a zero vector): the n-grams decide.
    scores = classifier.scores(["the coupon does not work"], np.zeros((1, 16), np.float32))
    assert scores.shape == (1, len(TOPICS))
    assert int(np.argmax(scores[0])) == TOPICS.index("coupon")
    # With words of no entry, the sentence vector decides.
    scores = classifier.scores(["zzz"], vectors[[entries.tolist().index(4)]])
    assert int(np.argmax(scores[0])) == 4


def test_a_saved_classifier_scores_exactly_as_the_trained_one(tmp_path: Path) -> None:
    forms, entries, vectors = _forms()
    trainer = FaqEntryTrainer()
    classifier = trainer.train_one(forms, entries, vectors)
    assert classifier is not None
    classifier.save(tmp_path)
    loaded = trainer.load(tmp_path)
    texts = ["refund for my parcel", "new password", "发票"]
    assert np.array_equal(loaded.scores(texts, vectors[:3]), classifier.scores(texts, vectors[:3]))
    assert loaded.embedding_weight == classifier.embedding_weight


def test_a_classifier_too_large_to_keep_is_not_trained() -> None:
    forms, entries, vectors = _forms()
    assert FaqEntryTrainer(max_parameters=100).train_one(forms, entries, vectors) is None


def test_the_temperature_is_the_intent_classifiers_fit() -> None:
    scores = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    sharp = FaqEntryTrainer().fit_temperature(scores, np.array([0, 1, 0, 1]))
    assert sharp > 10  # always right: as sharp as allowed
    mixed = FaqEntryTrainer().fit_temperature(scores, np.array([0, 1, 1, 0]))
    assert mixed < sharp


def test_text_features_survive_their_state() -> None:
    texts = ["where is my parcel", "refund please", "退款多久到账"]
    features = TextFeatures(char=True, word=True, pos=False, embedder=None)
    fitted = features.fit_transform(texts)
    restored = TextFeatures.from_state(features.state())
    assert restored.width == features.width == fitted.shape[1]
    assert (restored.transform(texts) != features.transform(texts)).nnz == 0
    with pytest.raises(ValueError, match="unknown feature block"):
        TextFeatures.from_state([{"name": "emoji", "weight": 1, "vocabulary": {}, "idf": []}])


def test_a_child_process_trains_the_same_classifiers() -> None:
    """``kefu serve`` trains in a child, so the server never loads scikit-learn."""
    forms, entries, vectors = _forms()
    extra = vectors[:, ::-1].copy()  # a second encoder's vectors travel too
    sets = [
        TrainingSet(forms, entries, vectors),
        TrainingSet(forms[:8], entries[:8], vectors[:8]),
        TrainingSet(forms, entries, vectors, extra),
    ]
    here = FaqEntryTrainer().train(sets)
    there = FaqEntryTrainer(in_child=True, extra_weight=3.0).train(sets)
    assert len(there) == 3
    assert there[2] is not None and there[2].extra_dim == 16 and there[2].extra_weight == 3.0
    for mine, theirs in zip(here[:2], there[:2], strict=True):
        assert mine is not None and theirs is not None
        assert np.array_equal(mine.scores(forms, vectors), theirs.scores(forms, vectors))


def test_a_second_encoders_vectors_are_one_more_block(tmp_path: Path) -> None:
    forms, entries, vectors = _forms()
    rng = np.random.default_rng(1)
    # the second encoder knows the entries; the first is noise here
    extra = np.eye(len(TOPICS), 8, dtype=np.float32)[entries] + 0.05 * rng.normal(
        size=(len(forms), 8)
    ).astype(np.float32)
    noise = rng.normal(size=vectors.shape).astype(np.float32)
    trainer = FaqEntryTrainer()
    classifier = trainer.train_one(forms, entries, noise, extra)
    assert classifier is not None and classifier.extra_dim == 8
    query_extra = np.eye(len(TOPICS), 8, dtype=np.float32)[[2]]
    zero = np.zeros((1, 16), np.float32)
    scores = classifier.scores(["zzz"], zero, query_extra)
    assert int(np.argmax(scores[0])) == 2  # no words, no first vector: the block decides
    # without the query's second vector that block counts zero
    assert np.array_equal(
        classifier.scores(["zzz"], zero), classifier.scores(["zzz"], zero, np.zeros((1, 8)))
    )
    classifier.save(tmp_path)
    loaded = trainer.load(tmp_path)
    assert loaded.extra_dim == 8
    assert np.array_equal(
        loaded.scores(["refund"], zero, query_extra),
        classifier.scores(["refund"], zero, query_extra),
    )
    # one encoder only: no such block, and a second vector changes nothing
    plain = trainer.train_one(forms, entries, vectors)
    assert plain is not None and plain.extra_dim == 0
    assert np.array_equal(plain.scores(["x"], zero, query_extra), plain.scores(["x"], zero))
