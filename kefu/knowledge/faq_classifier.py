"""An FAQ entry classifier fused with retrieval, for FAQs with many variants per entry.

Retrieval scores a query against each entry's forms one at a time (the best form's BM25 F1
and cosine); with ten or so variants per entry (BANKING77 as an FAQ), a classifier trained
on all of an entry's forms together learns what they share, and its probability adds
evidence retrieval lacks. At index build, when the FAQ has at least ``MIN_ENTRIES`` entries
and ``MIN_FORMS_PER_ENTRY`` forms (标准问 + 相似问) per entry on average, a classifier over
the entries is trained (the implementation is the caller's: ``kefu.nlu.faq_classifier``
reuses the intent classifier's features and SVM, over the form vectors the index already
holds) and fused with the hybrid relevance::

    relevance = (1 - weight) · retrieval relevance + weight · P(entry | query)

``weight`` and the probability's temperature are chosen honestly, on the FAQ's own forms:
the held-out folds of :func:`~kefu.knowledge.calibration.held_out_trials` (one variant of
each entry asked of the rest, whole entries removed) are scored by retrieval and by a
classifier trained on the kept forms only; the temperature minimises the held-out
log-loss and the weight (from ``WEIGHTS``) maximises held-out hit@1, kept at 0 (the
classifier off) unless it beats retrieval alone by more than one standard error. The same
fused held-out scores then calibrate the thresholds, so they read the fused relevance.
Nothing here ever sees an evaluation query.

Only queries the encoder embeds are fused (the classifier needs the query's vector; a
lexical-only turn, or a failed encoder, keeps the retrieval relevance).

A second encoder (for an English FAQ, the English MiniLM, when installed: the index decides)
may add its form vectors as one more block of the classifier's features. It is decided the
same honest way: the folds are trained with and without the block, each picks its own
temperature and weight, and the block is kept only if its held-out hit@1 beats the one
without by more than one standard error (paired over the same held-out questions).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.special import softmax

from kefu.core.errors import RetrievalError
from kefu.core.types import FaqEntry
from kefu.knowledge.calibration import HeldOutMatcher, held_out_trials

__all__ = [
    "MIN_ENTRIES",
    "MIN_FORMS_PER_ENTRY",
    "WEIGHTS",
    "ClassifierFusion",
    "EntryClassifier",
    "EntryClassifierTrainer",
    "FittedFusion",
    "TrainingSet",
    "fit_fusion",
    "wants_classifier",
]

logger = logging.getLogger(__name__)

# The rule for training one: enough entries to contrast and enough forms per entry to learn
# from. BANKING77 as an FAQ has 11 forms per entry (held-out hit@1 0.671 → 0.743 with the
# classifier); the demo shop has 6.2, and its held-out forms gained nothing (0.762 → 0.762)
# for +4 s of build and scikit-learn loaded into the server; BQ has 4.3.
MIN_ENTRIES = 10
MIN_FORMS_PER_ENTRY = 8.0
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # fusion weights tried on held-out forms
_FOLDER = "faq_classifier"
_FUSION_FILE = "fusion.json"

Matrix = npt.NDArray[np.float64]


class EntryClassifier(Protocol):
    """A trained classifier over an FAQ's entries (in index order)."""

    def scores(
        self, texts: Sequence[str], vectors: np.ndarray, extra: np.ndarray | None = None
    ) -> np.ndarray:
        """Per text (with its sentence vector, and its second encoder's vector if the
        classifier was trained with one): a margin per entry (texts × entries)."""
        ...

    def save(self, folder: Path) -> None:
        """Write the classifier into ``folder`` (an existing, empty folder)."""
        ...


@dataclass(frozen=True, slots=True)
class TrainingSet:
    """An FAQ's forms, their entry numbers (0 … E-1) and their sentence vectors (``extra``:
    a second encoder's vectors of the same forms, one more block of features)."""

    forms: Sequence[str]
    entries: np.ndarray
    vectors: np.ndarray
    extra: np.ndarray | None = None


class EntryClassifierTrainer(Protocol):
    """Trains :class:`EntryClassifier` s from an FAQ's forms; the index owns when and why."""

    name: str

    def train(self, sets: Sequence[TrainingSet]) -> Sequence[EntryClassifier | None]:
        """One classifier per set, all at once (one child process can train them all); None
        for a set whose classifier would be too large to keep in memory."""
        ...

    def fit_temperature(self, scores: np.ndarray, truth: np.ndarray) -> float:
        """The softmax temperature that makes held-out ``scores`` probabilities of ``truth``."""
        ...

    def load(self, folder: Path) -> EntryClassifier:
        """The classifier :meth:`EntryClassifier.save` wrote (OSError/ValueError if not)."""
        ...


@dataclass(frozen=True, slots=True)
class HeldOutFigures:
    """What the choice was made on: held-out variant questions and their hit@1 without
    and with the classifier (at the chosen weight), and the build time it took."""

    questions: int
    retrieval_hit1: float
    fused_hit1: float
    seconds: float = 0.0
    without_extra_hit1: float | None = None  # fused hit@1 without the second encoder


@dataclass(frozen=True, slots=True)
class ClassifierFusion:
    """The trained classifier (None: fitted, not used) and how it joins retrieval."""

    classifier: EntryClassifier | None
    name: str
    temperature: float
    weight: float
    held_out: HeldOutFigures
    extra_encoder: str | None = None  # the second encoder the classifier reads (by name)

    @property
    def active(self) -> bool:
        return self.classifier is not None and self.weight > 0

    def fuse(
        self,
        relevance: Matrix,
        rank_key: Matrix,
        text: str,
        vector: np.ndarray,
        extra: np.ndarray | None = None,
    ) -> tuple[Matrix, Matrix]:
        """(relevance, ranking key) per entry with the classifier's probability fused in
        (``extra``: the query's second-encoder vector; None: that block scores zero)."""
        if self.classifier is None or self.weight <= 0:
            return relevance, rank_key
        if self.extra_encoder is not None and extra is not None:
            scores = self.classifier.scores([text], vector[None, :], extra[None, :])[0]
        else:
            scores = self.classifier.scores([text], vector[None, :])[0]
        return _fused(relevance, rank_key, scores, self.temperature, self.weight)

    def describe(self) -> str:
        """One line for the log, the build report and ``kefu eval faq``."""
        figures = self.held_out
        measured = (
            f"held-out hit@1 {figures.retrieval_hit1:.3f} → {figures.fused_hit1:.3f} over "
            f"{figures.questions} FAQ variants"
        )
        if figures.without_extra_hit1 is not None:
            measured += (
                f"; second encoder's vectors {'used' if self.extra_encoder else 'not used'}"
                f" (fused without them {figures.without_extra_hit1:.3f})"
            )
        if not self.active:
            return f"FAQ classifier ({self.name}) not used: {measured} / FAQ 分类器未启用"
        encoders = f" + {self.extra_encoder} vectors" if self.extra_encoder else ""
        return (
            f"FAQ classifier ({self.name}{encoders}) active, weight {self.weight:g}: "
            f"{measured} / FAQ 分类器已启用"
        )

    def save(self, index_folder: Path) -> None:
        """Write the fusion (and the classifier, if used) under ``index_folder``."""
        folder = index_folder / _FOLDER
        folder.mkdir()
        if self.classifier is not None:
            self.classifier.save(folder)
        payload = {
            "name": self.name,
            "temperature": self.temperature,
            "weight": self.weight,
            "classifier": self.classifier is not None,
            "held_out": asdict(self.held_out),
            "extra_encoder": self.extra_encoder,
        }
        (folder / _FUSION_FILE).write_text(json.dumps(payload), "utf-8")

    @staticmethod
    def saved_in(index_folder: Path) -> bool:
        """Whether an index folder holds a fitted fusion (its thresholds read it)."""
        return (index_folder / _FOLDER / _FUSION_FILE).is_file()

    @classmethod
    def load(cls, index_folder: Path, trainer: EntryClassifierTrainer) -> ClassifierFusion | None:
        """The fusion saved under ``index_folder``; None when none was saved (an index built
        without a trainer, or before there was one). Raises OSError/ValueError if damaged."""
        folder = index_folder / _FOLDER
        try:
            payload = json.loads((folder / _FUSION_FILE).read_text("utf-8"))
        except FileNotFoundError:
            return None
        try:
            classifier = trainer.load(folder) if payload["classifier"] else None
            return cls(
                classifier,
                str(payload["name"]),
                float(payload["temperature"]),
                float(payload["weight"]),
                HeldOutFigures(**payload["held_out"]),
                payload.get("extra_encoder"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"damaged FAQ classifier in {folder}: {exc}") from None


def wants_classifier(entries: Sequence[FaqEntry]) -> bool:
    """Whether an FAQ is large and varied enough for a classifier (see ``MIN_*``)."""
    if len(entries) < MIN_ENTRIES:
        return False
    forms = sum(len(dict.fromkeys((entry.question, *entry.variants))) for entry in entries)
    return forms / len(entries) >= MIN_FORMS_PER_ENTRY


# kept entries and held-out questions → per question, per kept entry: (relevance, rank key)
HeldOutScores = Callable[
    [Sequence[FaqEntry], Sequence[tuple[str, int, int | None]]], tuple[Matrix, Matrix]
]


@dataclass(frozen=True, slots=True)
class _Fold:
    relevance: Matrix  # questions × kept entries
    rank_key: Matrix
    scores: Matrix  # the fold's classifier's margins, same shape
    expected: npt.NDArray[np.int64]  # the kept entry that should answer; -1: none should


@dataclass(frozen=True, slots=True)
class FittedFusion:
    """:func:`fit_fusion`'s result: the fusion (None: the classifier could not be trained)
    and the held-out matcher that replays its folds, fused, for the threshold calibration."""

    fusion: ClassifierFusion | None
    held_out: HeldOutMatcher


@dataclass(frozen=True, slots=True)
class _Choice:
    temperature: float
    weight: float
    figures: HeldOutFigures
    right: npt.NDArray[np.float64]  # per held-out question: right at the chosen weight
    folds: list[_Fold]


def fit_fusion(
    entries: Sequence[FaqEntry],
    forms: Sequence[str],
    form_entry: np.ndarray,
    vectors: np.ndarray,
    trainer: EntryClassifierTrainer,
    retrieve: HeldOutScores,
    extra: np.ndarray | None = None,
    extra_encoder: str | None = None,
) -> FittedFusion:
    """Choose the temperature and weight on held-out folds and train the final classifier.

    ``forms``/``form_entry``/``vectors``: the index's forms, their entries and vectors;
    ``retrieve``: scores held-out questions against an index of the kept entries only;
    ``extra``: a second encoder's vectors of the forms (named ``extra_encoder``), kept as
    one more block of features only if they win on the held-out folds (module docstring).
    """
    started = time.perf_counter()
    row_of = {text: row for row, text in reversed(list(enumerate(forms)))}
    recorded: list[tuple[Matrix, Matrix, TrainingSet, list[str], list[int], np.ndarray]] = []

    def record(
        kept: Sequence[FaqEntry], asked: Sequence[tuple[str, int, int | None]]
    ) -> list[tuple[float, int | None]]:
        relevance, rank_key = retrieve(kept, asked)
        kept_forms, labels = [], []
        for number, entry in enumerate(kept):
            for text in dict.fromkeys((entry.question, *entry.variants)):
                kept_forms.append(text)
                labels.append(number)
        kept_rows = [row_of[t] for t in kept_forms]
        training = TrainingSet(kept_forms, np.array(labels), vectors[kept_rows])
        expected = np.array([-1 if e is None else e for *_, e in asked], dtype=np.int64)
        texts, rows = [text for text, *_ in asked], [row for _, row, _ in asked]
        recorded.append((relevance, rank_key, training, texts, rows, expected))
        return [(0.0, None)] * len(asked)

    held_out_trials(entries, record)
    # The folds' classifiers and the final one (used only if the folds choose a weight) in
    # one call: with a child process, one start and one scikit-learn import per build.
    # With a second encoder, the same again with its block: both are compared below.
    final = TrainingSet(forms, np.asarray(form_entry), vectors)
    sets = [training for _, _, training, *_ in recorded] + [final]
    if extra is not None:
        sets += [
            dataclasses.replace(training, extra=extra[[row_of[t] for t in training.forms]])
            for training in sets
        ]
    try:
        trained = trainer.train(sets)
    except RetrievalError as exc:
        logger.warning("FAQ classifier not trained, retrieval alone: %s", exc)
        return FittedFusion(None, lambda kept, asked: _unfused(retrieve(kept, asked)))
    if not recorded or any(classifier is None for classifier in trained):
        logger.info("FAQ classifier not trained: it would be too large for this FAQ")
        return FittedFusion(None, lambda kept, asked: _unfused(retrieve(kept, asked)))
    width = len(recorded) + 1
    plain = _choice(recorded, trained[:width], vectors, None, trainer)
    chosen, classifier, without_extra = plain, trained[width - 1], None
    if extra is not None:
        with_extra = _choice(recorded, trained[width:], vectors, extra, trainer)
        without_extra = plain.figures.fused_hit1
        gain = with_extra.right - plain.right
        questions = len(gain)
        spread = gain.std(ddof=1) / np.sqrt(questions) if questions > 1 else np.inf
        if with_extra.weight > 0 and gain.mean() > spread:
            chosen, classifier = with_extra, trained[-1]
        else:
            extra_encoder = None
        logger.info(
            "FAQ classifier: held-out hit@1 %.3f with %s vectors, %.3f without: %s",
            with_extra.figures.fused_hit1,
            extra_encoder or "the second encoder's",
            plain.figures.fused_hit1,
            "used" if chosen is with_extra else "not used (within one standard error)",
        )
    else:
        extra_encoder = None
    temperature, weight, figures = chosen.temperature, chosen.weight, chosen.figures
    figures = HeldOutFigures(
        figures.questions,
        figures.retrieval_hit1,
        figures.fused_hit1,
        round(time.perf_counter() - started, 2),
        without_extra,
    )
    fusion = ClassifierFusion(
        classifier if weight > 0 else None,
        trainer.name,
        temperature,
        weight,
        figures,
        extra_encoder if weight > 0 else None,
    )
    logger.info("%s (fitted in %.1f s)", fusion.describe(), figures.seconds)
    replay: Iterator[_Fold] = iter(chosen.folds)

    def replayed(
        kept: Sequence[FaqEntry], asked: Sequence[tuple[str, int, int | None]]
    ) -> list[tuple[float, int | None]]:
        fold = next(replay)  # held_out_trials asks the same folds in the same order
        relevance, rank_key = _fused(
            fold.relevance, fold.rank_key, fold.scores, temperature, weight
        )
        return _unfused((relevance, rank_key))

    return FittedFusion(fusion, replayed)


def _choice(
    recorded: Sequence[tuple[Matrix, Matrix, TrainingSet, list[str], list[int], np.ndarray]],
    trained: Sequence[EntryClassifier | None],
    vectors: np.ndarray,
    extra: np.ndarray | None,
    trainer: EntryClassifierTrainer,
) -> _Choice:
    """The folds scored by their classifiers (the last of ``trained`` is the final one)
    and the temperature and weight they choose."""
    folds = []
    for (relevance, rank_key, _, texts, rows, expected), classifier in zip(
        recorded, trained, strict=False
    ):
        assert classifier is not None
        if extra is None:
            scores = classifier.scores(texts, vectors[rows])
        else:
            scores = classifier.scores(texts, vectors[rows], extra[rows])
        folds.append(_Fold(relevance, rank_key, np.asarray(scores, np.float64), expected))
    temperature, weight, figures, right = _choose(folds, trainer)
    return _Choice(temperature, weight, figures, right, folds)


def _fused(
    relevance: Matrix, rank_key: Matrix, scores: np.ndarray, temperature: float, weight: float
) -> tuple[Matrix, Matrix]:
    if weight <= 0:
        return relevance, rank_key
    probability = softmax(temperature * np.asarray(scores, np.float64), axis=-1)
    fused_relevance: Matrix = np.round((1 - weight) * relevance + weight * probability, 4)
    fused_key: Matrix = (1 - weight) * rank_key + weight * probability
    return fused_relevance, fused_key


def _top(relevance: Matrix, rank_key: Matrix) -> npt.NDArray[np.int64]:
    """Per row: the entry the index would rank first (rank key, then relevance, then the
    entry listed first)."""
    columns = np.arange(relevance.shape[1])
    tops = [
        int(np.lexsort((columns, -relevance[row], -rank_key[row]))[0])
        for row in range(len(relevance))
    ]
    return np.array(tops, dtype=np.int64)


def _unfused(scored: tuple[Matrix, Matrix]) -> list[tuple[float, int | None]]:
    """Held-out (relevance, entry) of each question's top entry, as calibration reads them."""
    relevance, rank_key = scored
    if relevance.shape[1] == 0:
        return [(0.0, None)] * len(relevance)
    found: list[tuple[float, int | None]] = []
    for row, top in enumerate(_top(relevance, rank_key).tolist()):
        value = float(relevance[row, top])
        found.append((value, top) if value > 0 else (0.0, None))
    return found


def _choose(
    folds: Sequence[_Fold], trainer: EntryClassifierTrainer
) -> tuple[float, float, HeldOutFigures, npt.NDArray[np.float64]]:
    """(temperature, weight, figures, right or not per question at that weight) from the
    held-out folds' variant questions."""
    asked = [(fold, np.flatnonzero(fold.expected >= 0)) for fold in folds]
    width = max(fold.scores.shape[1] for fold in folds)
    scores = np.vstack(
        [
            np.pad(
                fold.scores[rows], ((0, 0), (0, width - fold.scores.shape[1])), constant_values=-1e9
            )
            for fold, rows in asked
        ]
    )
    truth = np.concatenate([fold.expected[rows] for fold, rows in asked])
    questions = len(truth)
    if questions == 0:
        return 1.0, 0.0, HeldOutFigures(0, 0.0, 0.0), np.zeros(0)
    temperature = trainer.fit_temperature(scores, truth)
    right: dict[float, np.ndarray] = {}
    for weight in WEIGHTS:
        hits = []
        for fold, rows in asked:
            relevance, rank_key = _fused(
                fold.relevance[rows], fold.rank_key[rows], fold.scores[rows], temperature, weight
            )
            hits.append(_top(relevance, rank_key) == fold.expected[rows])
        right[weight] = np.concatenate(hits).astype(np.float64)
    baseline = right[WEIGHTS[0]]
    best = max(WEIGHTS, key=lambda weight: (right[weight].mean(), -weight))
    gain = right[best] - baseline
    spread = gain.std(ddof=1) / np.sqrt(questions) if questions > 1 else np.inf
    if not gain.mean() > spread:  # within the noise of which variants were held out
        best = WEIGHTS[0]
    figures = HeldOutFigures(
        questions, round(float(baseline.mean()), 4), round(float(right[best].mean()), 4)
    )
    return round(temperature, 4), best, figures, right[best]
