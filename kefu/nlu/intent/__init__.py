"""Intent classification: hierarchical intents learnt from an app's example utterances."""

from __future__ import annotations

from kefu.nlu.intent.classifier import (
    DEFAULT_THRESHOLD,
    OUT_OF_SCOPE,
    IntentClassifier,
    IntentExample,
    IntentPrediction,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "OUT_OF_SCOPE",
    "IntentClassifier",
    "IntentExample",
    "IntentPrediction",
]
