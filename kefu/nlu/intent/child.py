"""Train an intent classifier in a child process: pickled (examples, settings) on stdin,
the pickled classifier on stdout.

``python -m kefu.nlu.intent.child`` is what :func:`train_in_child` runs. A plain child
process (not multiprocessing) starts nothing else — no resource tracker that outlives it —
and does not re-import the parent's ``__main__``.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Sequence

from kefu.appfile.nlu_config import IntentSettings
from kefu.core.errors import ConfigError
from kefu.nlu.intent.classifier import IntentClassifier, IntentExample

__all__ = ["train_in_child"]

TIMEOUT_S = 600


def train_in_child(examples: Sequence[IntentExample], settings: IntentSettings) -> IntentClassifier:
    """Train in a fresh ``python -m kefu.nlu.intent.child`` and bring back the classifier."""
    payload = pickle.dumps((list(examples), settings))
    done = subprocess.run(
        [sys.executable, "-m", "kefu.nlu.intent.child"],
        input=payload,
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ConfigError(f"intent training failed: {message[-1] if message else done.returncode}")
    classifier = pickle.loads(done.stdout)
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
