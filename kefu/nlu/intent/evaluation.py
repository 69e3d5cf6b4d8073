"""Measure an intent classifier on labelled JSONL files, as ``kefu eval intent`` reports it.

Training is exactly what an app does at load; test queries are then predicted one at a
time (the latency a customer sees), with BLAS capped to one thread.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kefu.appfile.nlu_config import IntentSettings
from kefu.core.errors import InvalidParam
from kefu.core.jsonl import read_jsonl
from kefu.nlu.intent.classifier import (
    OUT_OF_SCOPE,
    IntentClassifier,
    IntentExample,
    IntentPrediction,
)
from kefu.nlu.intent.features import Progress

__all__ = ["IntentEvaluation", "evaluate_intents", "read_examples", "write_report"]

_CONFUSED_WITH = 3


def read_examples(path: Path) -> list[IntentExample]:
    """Read ``{"text": ..., "label": ...}`` lines; :class:`InvalidParam` names file and line."""
    examples: list[IntentExample] = []
    for number, row in read_jsonl(path):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("text"), str)
            and isinstance(row.get("label"), str)
        ):
            raise InvalidParam(
                f'{path}, line {number}: expected an object with "text" and "label" strings'
            )
        examples.append(IntentExample(text=row["text"], label=row["label"]))
    if not examples:
        raise InvalidParam(f"{path}: no examples")
    return examples


@dataclass(frozen=True, slots=True)
class IntentEvaluation:
    """Scores of one train → test run, plus what the report needs."""

    metrics: dict[str, Any]
    truths: list[str]
    predictions: list[IntentPrediction]
    texts: list[str]


def evaluate_intents(
    train: list[IntentExample],
    test: list[IntentExample],
    settings: IntentSettings,
    *,
    progress: Progress | None = None,
    lexical_baseline: bool = True,
) -> IntentEvaluation:
    """Train like an app, predict each test query alone, and score.

    ``accuracy`` counts an out-of-scope answer (``label=None``) as right only for an
    ``oos`` test row; ``in_scope_accuracy`` and ``oos_recall`` split it as CLINC150 does.
    ``top1_accuracy`` ignores the threshold (the best-ranked intent of each in-scope row):
    the closed-set accuracy that published BANKING77 and SMP2017 numbers report.

    With ``lexical_baseline`` the metrics also hold ``lexical``: the same scores of a
    classifier trained in the same run with the same settings but no sentence embeddings
    (the n-gram blocks alone), so every figure has its words-only reference next to it.
    When no embeddings are in use it is the classifier itself (nothing trained twice).
    """
    from threadpoolctl import threadpool_limits

    started, cpu_started = time.perf_counter(), time.process_time()
    classifier = IntentClassifier.train(train, settings, progress=progress)
    train_seconds = time.perf_counter() - started
    train_cpu_seconds = time.process_time() - cpu_started

    texts = [example.text for example in test]
    predictions: list[IntentPrediction] = []
    wall: list[float] = []
    cpu_started = time.process_time()
    with threadpool_limits(limits=1):
        for done, text in enumerate(texts, start=1):
            begin = time.perf_counter()
            predictions.append(classifier.predict(text))
            wall.append(time.perf_counter() - begin)
            if progress is not None and (done % 50 == 0 or done == len(texts)):
                progress("predicting", done, len(texts))
    cpu_seconds = time.process_time() - cpu_started

    truths = [example.label for example in test]
    metrics: dict[str, Any] = {
        **_scores(truths, predictions),
        "ms_per_query": 1000 * float(np.mean(wall)),
        "ms_per_query_p95": 1000 * float(np.percentile(wall, 95)),
        "cpu_ms_per_query": 1000 * cpu_seconds / len(texts),
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "features": classifier.features,
        "examples": len(train),
        "intents": len(classifier.labels),
        "test_examples": len(test),
        "threshold": classifier.threshold,
        "threshold_source": classifier.threshold_source,
        "temperature": classifier.temperature,
    }
    if lexical_baseline:
        metrics["lexical"] = _lexical(classifier, metrics, train, test, settings, progress)
    return IntentEvaluation(metrics=metrics, truths=truths, predictions=predictions, texts=texts)


_SCORE_KEYS = ("accuracy", "macro_f1", "in_scope_accuracy", "top1_accuracy", "oos_recall")


def _lexical(
    classifier: IntentClassifier,
    metrics: dict[str, Any],
    train: list[IntentExample],
    test: list[IntentExample],
    settings: IntentSettings,
    progress: Progress | None,
) -> dict[str, Any]:
    """The words-only reference: the classifier retrained with ``embeddings: off``."""
    if not classifier.uses_embeddings:
        lexical = classifier
        scores = {key: metrics[key] for key in _SCORE_KEYS}
        train_seconds = metrics["train_seconds"]
    else:
        started = time.perf_counter()
        lexical = IntentClassifier.train(
            train, settings.model_copy(update={"embeddings": "off"}), progress=progress
        )
        train_seconds = time.perf_counter() - started
        # All at once: only the scores are wanted here, not the per-query latency.
        predictions = lexical.predict_many([example.text for example in test])
        scores = _scores([example.label for example in test], predictions)
    return {
        **scores,
        "train_seconds": train_seconds,
        "features": lexical.features,
        "threshold": lexical.threshold,
        "threshold_source": lexical.threshold_source,
    }


def _scores(truths: list[str], predictions: list[IntentPrediction]) -> dict[str, float | None]:
    answered = [prediction.label or OUT_OF_SCOPE for prediction in predictions]
    best = [prediction.ranking[0][0] if prediction.ranking else "" for prediction in predictions]
    truth_array, answer_array, best_array = np.array(truths), np.array(answered), np.array(best)
    in_scope = truth_array != OUT_OF_SCOPE
    labels = sorted(set(truths))
    return {
        "accuracy": _mean(answer_array == truth_array),
        "macro_f1": float(
            _metrics().f1_score(truths, answered, labels=labels, average="macro", zero_division=0)
        ),
        "in_scope_accuracy": _mean(answer_array[in_scope] == truth_array[in_scope]),
        "top1_accuracy": _mean(best_array[in_scope] == truth_array[in_scope]),
        "oos_recall": _mean(answer_array[~in_scope] == OUT_OF_SCOPE) if (~in_scope).any() else None,
    }


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def write_report(evaluation: IntentEvaluation, folder: Path) -> list[str]:
    """Write ``intent_report.json``, ``intent_errors.json`` and ``confusion_matrix.png``.

    Returns notes for the user (such as the plot being skipped without matplotlib).
    """
    folder.mkdir(parents=True, exist_ok=True)
    answered = [prediction.label or OUT_OF_SCOPE for prediction in evaluation.predictions]
    labels = sorted(set(evaluation.truths) | set(answered))
    report: dict[str, Any] = _metrics().classification_report(
        evaluation.truths, answered, labels=labels, output_dict=True, zero_division=0
    )
    confusions: dict[str, Counter[str]] = {label: Counter() for label in labels}
    for truth, answer in zip(evaluation.truths, answered, strict=True):
        if truth != answer:
            confusions[truth][answer] += 1
    for label in labels:
        report[label]["confused_with"] = dict(confusions[label].most_common(_CONFUSED_WITH))
    (folder / "intent_report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    errors = [
        {
            "text": text,
            "intent": truth,
            "intent_prediction": {"name": prediction.label, "confidence": prediction.confidence},
        }
        for text, truth, prediction, answer in zip(
            evaluation.texts, evaluation.truths, evaluation.predictions, answered, strict=True
        )
        if truth != answer
    ]
    (folder / "intent_errors.json").write_text(
        json.dumps(errors, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return _plot_confusion(evaluation.truths, answered, labels, folder / "confusion_matrix.png")


def _plot_confusion(
    truths: list[str], answered: list[str], labels: list[str], path: Path
) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return [
            "confusion_matrix.png skipped: matplotlib is not installed "
            "(pip install 'kefu[eval]' or pip install matplotlib)"
        ]
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for truth, answer in zip(truths, answered, strict=True):
        counts[index[truth], index[answer]] += 1
    size = min(4 + 0.18 * len(labels), 40)
    font = max(3.0, min(9.0, 400 / max(len(labels), 1)))
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(np.log1p(counts), cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=font)
    axes.set_yticks(range(len(labels)), labels, fontsize=font)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("intent confusion matrix (log scale)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return []


def _metrics() -> Any:
    """scikit-learn's metrics, imported when an evaluation runs (not when a server starts)."""
    from sklearn import metrics

    return metrics
