"""Train FAQ entry classifiers in a child process: pickled (trainer, training sets) on
stdin, the pickled classifiers on stdout (``kefu.nlu.child_process``, as intents train).

``python -m kefu.nlu.faq_classifier_child`` is what :func:`train_in_child` runs, once per
index build for all of its classifiers, so ``kefu serve`` never loads scikit-learn.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Sequence

from kefu.core.errors import RetrievalError
from kefu.knowledge.faq_classifier import TrainingSet
from kefu.nlu.child_process import ChildFailed, run_module
from kefu.nlu.faq_classifier import FaqEntryClassifier, FaqEntryTrainer

__all__ = ["train_in_child"]

TIMEOUT_S = 600


def train_in_child(
    trainer: FaqEntryTrainer, sets: Sequence[TrainingSet]
) -> list[FaqEntryClassifier | None]:
    """``trainer.train(sets)`` in a fresh ``python -m kefu.nlu.faq_classifier_child``;
    RetrievalError if it fails (the index then keeps retrieval alone)."""
    local = FaqEntryTrainer(
        trainer.embedding_weight,
        trainer.regularization,
        trainer.max_parameters,
        extra_weight=trainer.extra_weight,
    )
    payload = (local, [(list(s.forms), s.entries, s.vectors, s.extra) for s in sets])
    try:
        classifiers = run_module("kefu.nlu.faq_classifier_child", payload, timeout_s=TIMEOUT_S)
    except ChildFailed as exc:
        raise RetrievalError(f"FAQ classifier training failed: {exc}") from None
    assert isinstance(classifiers, list) and len(classifiers) == len(sets)
    return classifiers


def _main() -> None:
    trainer, sets = pickle.loads(sys.stdin.buffer.read())
    classifiers = [trainer.train_one(*training) for training in sets]
    sys.stdout.buffer.write(pickle.dumps(classifiers, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _main()
