"""The FAQ entry classifier fused with retrieval: when it is trained, how its weight is
chosen (on the FAQ's own held-out forms), how it joins a query's relevance, and that it is
stored with the index."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kefu.appfile.app_config import AppConfig
from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.errors import RetrievalError
from kefu.core.types import FaqEntry
from kefu.engine.app import AppRuntime
from kefu.engine.retrieval import decide_direct
from kefu.knowledge import KnowledgeIndex, faq_classifier
from kefu.knowledge.faq_classifier import (
    ClassifierFusion,
    TrainingSet,
    fit_fusion,
    wants_classifier,
)
from kefu.nlu.faq_classifier import FaqEntryClassifier, FaqEntryTrainer
from tests.knowledge._fakes import ConceptEmbedder

TOPICS = [
    ("cancel", "order"), ("track", "parcel"), ("change", "address"), ("reset", "password"),
    ("redeem", "coupon"), ("download", "invoice"), ("return", "shoes"), ("exchange", "size"),
    ("upgrade", "membership"), ("delete", "account"), ("update", "phone"),
    ("claim", "warranty"),
]  # fmt: skip
PATTERNS = (
    "How do I {} my {}?", "{} {}", "can I {} the {} online", "I want to {} my {}",
    "help me {} the {}", "where can I {} a {}", "is it possible to {} the {}",
    "please {} my {}",
)  # fmt: skip


def faq(entries: int = len(TOPICS), forms: int = len(PATTERNS)) -> list[FaqEntry]:
    return [
        FaqEntry(
            f"e{number}",
            PATTERNS[0].format(verb, noun),
            f"Answer {number}.",
            tuple(pattern.format(verb, noun) for pattern in PATTERNS[1:forms]),
        )
        for number, (verb, noun) in enumerate(TOPICS[:entries])
    ]


def test_only_an_faq_with_enough_entries_and_variants_gets_a_classifier() -> None:
    assert wants_classifier(faq())  # 12 entries, 8 forms each
    assert not wants_classifier(faq(entries=9))  # too few entries to contrast
    assert not wants_classifier(faq(forms=7))  # too few forms to learn from


class _Oracle:
    """Scores the entry whose topic word the text names (what a perfect classifier does)."""

    def __init__(self, entries: Sequence[FaqEntry]) -> None:
        self.nouns = [entry.question.split()[-1].rstrip("?") for entry in entries]

    def scores(
        self, texts: Sequence[str], vectors: np.ndarray, extra: np.ndarray | None = None
    ) -> np.ndarray:
        return np.array([[5.0 if noun in text else 0.0 for noun in self.nouns] for text in texts])

    def save(self, folder: Path) -> None:
        (folder / "nouns.json").write_text(json.dumps(self.nouns))


class _Useless:
    def scores(
        self, texts: Sequence[str], vectors: np.ndarray, extra: np.ndarray | None = None
    ) -> np.ndarray:
        return np.zeros((len(texts), 1))

    def save(self, folder: Path) -> None:
        pass


class _Trainer:
    name = "fake"

    def __init__(self, useful: bool) -> None:
        self.useful = useful
        self.trained = 0

    def train(self, sets: Sequence[TrainingSet]) -> list[object]:
        self.trained += len(sets)
        return [self._one(training) for training in sets]

    def _one(self, training: TrainingSet) -> object:
        if not self.useful:
            return _Useless()
        forms, entries = training.forms, list(training.entries)
        first = [forms[entries.index(e)] for e in range(max(entries) + 1)]
        return _Oracle([FaqEntry(str(i), q, "") for i, q in enumerate(first)])

    def fit_temperature(self, scores: np.ndarray, truth: np.ndarray) -> float:
        return 2.0

    def load(self, folder: Path) -> object:
        raise OSError("not saved")


def _poor_retrieval(
    kept: Sequence[FaqEntry], asked: Sequence[tuple[str, int, int | None]]
) -> tuple[np.ndarray, np.ndarray]:
    """Retrieval that ranks a wrong entry first for every question."""
    relevance = np.full((len(asked), len(kept)), 0.3)
    for row, (_, _, expected) in enumerate(asked):
        relevance[row, ((expected or 0) + 1) % len(kept)] = 0.5
    return relevance, relevance.copy()


def _fit(trainer: _Trainer) -> ClassifierFusion:
    entries = faq()
    forms = [text for entry in entries for text in (entry.question, *entry.variants)]
    form_entry = np.repeat(np.arange(len(entries)), len(PATTERNS))
    vectors = np.zeros((len(forms), 4))
    fitted = fit_fusion(entries, forms, form_entry, vectors, trainer, _poor_retrieval)  # type: ignore[arg-type]
    assert fitted.fusion is not None
    return fitted.fusion


def test_a_classifier_that_helps_on_held_out_forms_gets_a_weight() -> None:
    trainer = _Trainer(useful=True)
    fusion = _fit(trainer)
    assert fusion.active and fusion.weight > 0
    assert fusion.held_out.retrieval_hit1 == 0.0 and fusion.held_out.fused_hit1 == 1.0
    assert trainer.trained == 4  # one per held-out fold and the final one, in one call
    assert "active" in fusion.describe() and "已启用" in fusion.describe()


def test_a_classifier_that_does_not_help_is_left_out() -> None:
    trainer = _Trainer(useful=False)
    fusion = _fit(trainer)
    assert not fusion.active and fusion.weight == 0 and fusion.classifier is None
    assert "not used" in fusion.describe()


@pytest.fixture
def weighted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The synthetic FAQ is easy for retrieval alone, so held-out forms would keep the
    classifier off: here its weight is pinned to 0.5 (the choice is tested above)."""
    choose = faq_classifier._choose

    def pinned(*args: object, **kwargs: object) -> tuple[float, float, object, object]:
        temperature, _, figures, right = choose(*args, **kwargs)  # type: ignore[arg-type]
        return temperature, 0.5, figures, right

    monkeypatch.setattr(faq_classifier, "_choose", pinned)


@pytest.mark.usefixtures("weighted")
def test_fused_relevance_is_the_weighted_probability(tmp_path: Path) -> None:
    config = RetrievalConfig()
    plain = KnowledgeIndex(embedder=ConceptEmbedder(), retrieval=config, calibrate=False)
    plain.rebuild(faq(), [])
    index = KnowledgeIndex(
        tmp_path, embedder=ConceptEmbedder(), retrieval=config, faq_classifier=FaqEntryTrainer()
    )
    report = index.rebuild(faq(), [])
    fusion = index.faq_fusion
    assert fusion is not None and fusion.active, fusion and fusion.describe()
    assert report.faq_classifier == fusion.describe()
    assert "FAQ classifier" in report.summary() and "FAQ classifier" in index.description
    query = "I would like to redeem this coupon please"
    [fused] = index.match_faq(query, 1)
    assert fused.entry.id == "e4"
    base = {hit.entry.id: hit.relevance for hit in plain.match_faq(query, len(TOPICS))}
    assert fusion.classifier is not None
    vector = ConceptEmbedder().embed([query])
    probability = fusion.classifier.scores([query], vector)[0] * fusion.temperature
    probability = np.exp(probability - probability.max())
    probability /= probability.sum()
    expected = (1 - fusion.weight) * base["e4"] + fusion.weight * probability[4]
    assert fused.relevance == pytest.approx(expected, abs=1e-3)
    assert fused.relevance != base["e4"]


@pytest.mark.usefixtures("weighted")
def test_the_classifier_is_stored_with_the_index(tmp_path: Path) -> None:
    config = RetrievalConfig()
    built = KnowledgeIndex(
        tmp_path, embedder=ConceptEmbedder(), retrieval=config, faq_classifier=FaqEntryTrainer()
    )
    built.rebuild(faq(), [])
    assert built.fingerprint is not None and built.faq_fusion is not None
    restarted = KnowledgeIndex(
        tmp_path, embedder=ConceptEmbedder(), retrieval=config, faq_classifier=FaqEntryTrainer()
    )
    assert restarted.load(built.fingerprint)
    fusion = restarted.faq_fusion
    assert fusion is not None
    assert (fusion.weight, fusion.temperature) == (
        built.faq_fusion.weight,
        built.faq_fusion.temperature,
    )
    for query in ("cancel order now", "the parcel is lost", "phone number update"):
        assert restarted.match_faq(query, 3) == built.match_faq(query, 3)
    # A damaged classifier is a damaged index: rebuilt, never half-used.
    [folder] = [path for path in tmp_path.iterdir() if path.name.startswith("index-")]
    weights = folder / "faq_classifier" / "weights.npz"
    saved = weights.read_bytes()
    weights.write_bytes(saved[: len(saved) // 2])
    damaged = KnowledgeIndex(
        tmp_path, embedder=ConceptEmbedder(), retrieval=config, faq_classifier=FaqEntryTrainer()
    )
    assert not damaged.load(built.fingerprint)
    weights.write_bytes(saved)
    # Turned off, the saved index (thresholds fitted on the fused relevance) is rebuilt.
    off = KnowledgeIndex(tmp_path, embedder=ConceptEmbedder(), retrieval=config)
    assert not off.load(built.fingerprint)
    # An index saved without the classifier (before it existed) is rebuilt, not half-used.
    for saved in (folder / "faq_classifier").iterdir():
        saved.unlink()
    (folder / "faq_classifier").rmdir()
    again = KnowledgeIndex(
        tmp_path, embedder=ConceptEmbedder(), retrieval=config, faq_classifier=FaqEntryTrainer()
    )
    assert not again.load(built.fingerprint)


def test_small_faqs_and_lexical_indexes_train_nothing() -> None:
    small = KnowledgeIndex(embedder=ConceptEmbedder(), faq_classifier=FaqEntryTrainer())
    small.rebuild(faq(entries=5), [])
    assert small.faq_fusion is None and small.last_build is not None
    assert small.last_build.faq_classifier is None
    lexical = KnowledgeIndex(faq_classifier=FaqEntryTrainer())
    lexical.rebuild(faq(), [])
    assert lexical.faq_fusion is None


@pytest.mark.usefixtures("weighted")
def test_a_changed_faq_retrains_the_classifier_from_cached_vectors(tmp_path: Path) -> None:
    embedder = ConceptEmbedder()
    index = KnowledgeIndex(
        tmp_path, embedder=embedder, retrieval=RetrievalConfig(), faq_classifier=FaqEntryTrainer()
    )
    index.rebuild(faq(entries=11), [])
    before = index.faq_fusion
    assert before is not None and isinstance(before.classifier, FaqEntryClassifier)
    assert before.classifier.entries == 11
    report = index.rebuild(faq(), [])  # one entry added: only its forms are embedded
    assert report.embedded == len(PATTERNS) and report.reused == 11 * len(PATTERNS)
    after = index.faq_fusion
    assert after is not None and isinstance(after.classifier, FaqEntryClassifier)
    assert after.classifier.entries == 12
    assert index.match_faq("I need to claim the warranty", 1)[0].entry.id == "e11"


@pytest.mark.usefixtures("weighted")
def test_a_turn_trace_says_the_classifier_is_on() -> None:
    index = KnowledgeIndex(
        embedder=ConceptEmbedder(), retrieval=RetrievalConfig(), faq_classifier=FaqEntryTrainer()
    )
    index.rebuild(faq(), [])
    app = AppRuntime("a", AppConfig.model_validate({"name": "a"}), index)
    record: dict[str, object] = {}
    decide_direct(app, "How do I track my parcel?", record)
    assert record["faq_classifier_weight"] == 0.5
    plain = KnowledgeIndex(embedder=ConceptEmbedder(), retrieval=RetrievalConfig())
    plain.rebuild(faq(), [])
    record = {}
    decide_direct(AppRuntime("a", AppConfig.model_validate({"name": "a"}), plain), "parcel", record)
    assert "faq_classifier_weight" not in record


def test_a_failed_training_leaves_retrieval_alone(caplog: pytest.LogCaptureFixture) -> None:
    class Failing(_Trainer):
        def train(self, sets: Sequence[TrainingSet]) -> list[object]:
            raise RetrievalError("FAQ classifier training failed: killed")

    entries = faq()
    forms = [text for entry in entries for text in (entry.question, *entry.variants)]
    form_entry = np.repeat(np.arange(len(entries)), len(PATTERNS))
    fitted = fit_fusion(
        entries,
        forms,
        form_entry,
        np.zeros((len(forms), 4)),
        Failing(True),
        _poor_retrieval,  # type: ignore[arg-type]
    )
    assert fitted.fusion is None
    assert "retrieval alone" in caplog.text
    # the thresholds are still calibrated, on retrieval's own relevance
    kept = entries[1:]
    assert fitted.held_out(kept, [("track parcel", 0, 0)]) == [(0.5, 1)]
