"""Train an intent classifier in a child process: pickled (examples, settings) on stdin,
the pickled classifier on stdout.

``python -m kefu.nlu.intent.child`` is what :func:`train_in_child` runs (through
``kefu.nlu.child_process``).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Sequence

from kefu.appfile.nlu_config import IntentSettings
from kefu.core.errors import ConfigError
from kefu.nlu.child_process import ChildFailed, run_module
from kefu.nlu.intent.classifier import IntentClassifier, IntentExample

__all__ = ["train_in_child"]

TIMEOUT_S = 600


def train_in_child(examples: Sequence[IntentExample], settings: IntentSettings) -> IntentClassifier:
    """Train in a fresh ``python -m kefu.nlu.intent.child`` and bring back the classifier."""
    try:
        classifier = run_module(
            "kefu.nlu.intent.child", (list(examples), settings), timeout_s=TIMEOUT_S
        )
    except ChildFailed as exc:
        raise ConfigError(f"intent training failed: {exc}") from None
    assert isinstance(classifier, IntentClassifier)
    return classifier


def _main() -> None:
    examples, settings = pickle.loads(sys.stdin.buffer.read())
    try:
        classifier = IntentClassifier.train(examples, settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    sys.stdout.buffer.write(pickle.dumps(classifier, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _main()
