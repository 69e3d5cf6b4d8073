"""Choose intent-classifier hyper-parameters by cross-validation on the TRAINING file only.

    python bench/intent_data.py                      # once: the data sets as JSONL
    python bench/intent_cv.py                        # SMP2017 train, the default grid
    python bench/intent_cv.py --train FILE --weights 1,1.25,2 --c 0.5,1 --shuffles 5 --json

Stratified k-fold over the training file, repeated over several shuffles: each fold fits
the n-gram blocks (``TextFeatures``, exactly as an app does) on its training part only, and
the sentence vectors (the encoder an app would use for these examples, computed once: an
encoder has nothing to fit) are appended at each candidate weight; a linear SVM at each
candidate C is trained and scored on the held-out part. The test split (SMP2017 develop,
CLINC150 val, BANKING77 test) is never read, so the figures `kefu eval intent` reports on
it stay an honest estimate. Each row also says in how many folds it beat the first row
(the current default), since a 0.2-point mean difference is within fold noise.

This is what chose the USE weight 1.25 (``kefu/nlu/intent/features.py``).
bench/intent_variants.py asks the wider question (classifier type, class weights, other
n-gram blocks, a second encoder) on the same folds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rich.progress import Progress

from kefu.appfile.nlu_config import IntentSettings
from kefu.knowledge.tokenizer import has_chinese
from kefu.nlu.intent.classifier import _resolve_embedder
from kefu.nlu.intent.evaluation import read_examples
from kefu.nlu.intent.features import TextFeatures

DEFAULT_TRAIN = Path("/tmp/kefu-intent-data/smp2017_train.jsonl")


def floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def cross_validate(
    texts: list[str],
    labels: list[str],
    grid: list[tuple[float, float]],
    *,
    folds: int = 5,
    shuffles: int = 2,
    first_seed: int = 0,
) -> dict[tuple[float, float], list[int]]:
    """Right answers per fold for each (embedding weight, C) of ``grid``."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    settings = IntentSettings()
    chinese = sum(has_chinese(text) for text in texts)
    tagger = chinese > 0 and chinese >= settings.tagger_min_examples
    embedder = _resolve_embedder(settings, chinese / len(texts), tagger)
    vectors = embedder.embed(texts) if embedder is not None else None
    targets = np.unique(np.array(labels), return_inverse=True)[1]
    right: dict[tuple[float, float], list[int]] = {point: [] for point in grid}
    with Progress(transient=True) as bars:
        task = bars.add_task("folds", total=folds * shuffles)
        for seed in range(first_seed, first_seed + shuffles):
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
            for fit, held in splitter.split(texts, targets):
                features = TextFeatures(
                    char=settings.char_ngrams,
                    word=settings.word_ngrams,
                    pos=settings.pos_tags and tagger,
                    segmented=settings.segmented_ngrams and tagger,
                    embedder=None,
                )
                fit_rows = features.fit_transform([texts[i] for i in fit])
                held_rows = features.transform([texts[i] for i in held])
                for weight, c in grid:
                    blocks_fit, blocks_held = [fit_rows], [held_rows]
                    if vectors is not None and weight:
                        blocks_fit.append(sp.csr_matrix(vectors[fit] * weight))
                        blocks_held.append(sp.csr_matrix(vectors[held] * weight))
                    svm = LinearSVC(C=c, random_state=0, max_iter=5000)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        svm.fit(sp.hstack(blocks_fit, format="csr", dtype=np.float64), targets[fit])
                    guess = svm.predict(sp.hstack(blocks_held, format="csr", dtype=np.float64))
                    right[(weight, c)].append(int(np.sum(guess == targets[held])))
                bars.advance(task)
    return right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="training JSONL")
    parser.add_argument(
        "--weights", type=floats, default=[1.25, 1.0, 1.5, 2.0, 0.0], help="embedding weights"
    )
    parser.add_argument("--c", type=floats, default=[0.5, 1.0], help="SVM C values")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--shuffles", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="first shuffle's seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    examples = read_examples(args.train)
    texts = [example.text for example in examples]
    labels = [example.label for example in examples]
    grid = list(itertools.product(args.weights, args.c))
    right = cross_validate(
        texts, labels, grid, folds=args.folds, shuffles=args.shuffles, first_seed=args.seed
    )
    total = len(texts) * args.shuffles
    reference = np.array(right[grid[0]])
    rows: list[dict[str, Any]] = []
    for (weight, c), counts in right.items():
        difference = np.array(counts) - reference
        rows.append(
            {
                "embedding_weight": weight,
                "c": c,
                "cv_accuracy": sum(counts) / total,
                "folds_better": int((difference > 0).sum()),
                "folds_worse": int((difference < 0).sum()),
            }
        )
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{args.train}: {len(texts)} examples, {args.folds}-fold CV x {args.shuffles} shuffles")
    print("| embedding weight | C | CV accuracy % | folds better / worse than the first row |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['embedding_weight']:g} | {row['c']:g} | {100 * row['cv_accuracy']:.2f} "
            f"| {row['folds_better']} / {row['folds_worse']} |"
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
