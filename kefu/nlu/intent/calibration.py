"""Temperature scaling: turn linear-SVM scores into probabilities that mean what they say.

A linear SVM's scores are margins, not probabilities. ``softmax(temperature * scores)``
with one temperature fitted to minimise the log-loss on held-out examples (Guo et al.,
2017, "On calibration of modern neural networks") keeps the ranking and makes "0.8" right
about 80% of the time on in-scope queries.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_TEMPERATURE",
    "choose_threshold",
    "fit_temperature",
    "holdout_split",
    "softmax",
]

# Used when there are too few examples to hold any out: about the median of the fitted
# temperatures (BANKING77 4.1, BANKING77 10-shot 7.1, CLINC150 6.4, SMP2017 7.1).
DEFAULT_TEMPERATURE = 6.5
_HELD_OUT_SHARE = 0.2
_MIN_PER_LABEL_TO_HOLD_OUT = 3


def softmax(scores: npt.NDArray[np.float32], temperature: float) -> npt.NDArray[np.float32]:
    """Probabilities of each class (columns of ``scores``); the input is left unchanged."""
    scaled = scores * np.float32(temperature)
    scaled -= scaled.max(axis=1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=1, keepdims=True)
    return scaled


def holdout_split(
    labels: npt.NDArray[np.int64], seed: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Deterministic (fit, held-out) indices: ~20% of each label with ≥ 3 examples held out.

    Every label keeps at least two examples on the fit side, so both sides know the same
    labels; labels with fewer examples stay whole on the fit side.
    """
    rng = np.random.default_rng(seed)
    fit: list[int] = []
    held: list[int] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        count = 0
        if len(members) >= _MIN_PER_LABEL_TO_HOLD_OUT:
            count = max(1, round(len(members) * _HELD_OUT_SHARE))
        held.extend(members[:count].tolist())
        fit.extend(members[count:].tolist())
    return np.array(sorted(fit), dtype=np.int64), np.array(sorted(held), dtype=np.int64)


def fit_temperature(scores: npt.NDArray[np.float32], truth: npt.NDArray[np.int64]) -> float:
    """The temperature minimising the mean negative log-likelihood of ``truth``."""
    # Imported here: only training fits a temperature, and scipy.optimize (with the
    # scipy.linalg/special/spatial it pulls in) costs a server ~28 MB it would never use.
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(truth))

    def loss(log_temperature: float) -> float:
        probabilities = softmax(scores, float(np.exp(log_temperature)))
        return float(-np.mean(np.log(probabilities[rows, truth] + 1e-12)))

    result = minimize_scalar(loss, bounds=(np.log(0.1), np.log(200.0)), method="bounded")
    return float(np.exp(result.x))


THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def choose_threshold(
    probabilities: npt.NDArray[np.float32],
    truth: npt.NDArray[np.int64],
    in_scope: npt.NDArray[np.bool_],
    max_in_scope_loss: float = 0.005,
) -> tuple[float, float, float]:
    """The out-of-scope threshold for held-out rows: the highest that costs at most
    ``max_in_scope_loss`` of in-scope accuracy (the right intent, above the threshold)
    against no threshold at all — so it catches as many out-of-scope rows (below it, or
    won by the ``oos`` class) as that allows. Returns the threshold and the in-scope
    accuracy and out-of-scope recall there.

    A missed intent costs a customer a flow they asked for, while an out-of-scope question
    that gets an intent is mostly caught later (the FAQ and the word-overlap guard), so
    in-scope accuracy is what is protected."""
    masked = np.where(in_scope[np.newaxis, :], probabilities, -1.0)
    best = masked.argmax(axis=1)
    confidence = masked.max(axis=1)
    won_by_oos = ~in_scope[probabilities.argmax(axis=1)]
    rows_in = in_scope[truth]
    right_intent = (best == truth) & ~won_by_oos
    ceiling = float(np.mean(right_intent[rows_in]))
    chosen = (float(THRESHOLD_GRID[0]), ceiling, 0.0)
    for threshold in THRESHOLD_GRID:
        accepted = confidence >= threshold
        in_accuracy = float(np.mean((right_intent & accepted)[rows_in]))
        if in_accuracy < ceiling - max_in_scope_loss - 1e-12:
            break
        oos_recall = float(np.mean((won_by_oos | ~accepted)[~rows_in]))
        chosen = (float(threshold), in_accuracy, oos_recall)
    return chosen
