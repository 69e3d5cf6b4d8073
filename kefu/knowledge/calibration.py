"""FAQ direct-answer thresholds calibrated per app and per language from the app's own FAQ.

A fixed threshold means different things for different FAQs and languages: at 0.55 kefu
answered 80 % of the BQ bank questions with 27 % of them right, against 96 % in English.
So at index time each app's FAQ is asked its own questions, leave-one-out:

* **held-out variants**: one form (标准问 or 相似问) of an entry is removed and asked; the
  entry's remaining forms should answer it (*right*), another entry is *wrong*;
* **held-out entries**: a few whole entries are removed and their question asked; any
  answer is *wrong* (the FAQ does not cover it: it should be declined).

Each language's threshold minimises the held-out cost, a wrong direct answer counting as
``WRONG_COST`` declines, among thresholds where wrong answers stay rarer than declines;
the app default stays unless another threshold is better by more than one standard error. (A
precision target was tried first: on the demo FAQ the held-out precision is flat, 0.75-0.80
from 0.4 to 0.8, because neighbouring entries overlap, so any target above it jumped to the
ceiling and declined most questions.) With fewer than ``MIN_TRIALS``
questions in a language (a tiny FAQ) the app's configured threshold stays. The result is
stored with the index; an explicit ``faq_threshold`` in the app file overrides it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from kefu.core.types import FaqEntry
from kefu.knowledge.tokenizer import detect_language

__all__ = [
    "CALIBRATION_FILE",
    "MIN_TRIALS",
    "PASSAGES_KEY",
    "WRONG_COST",
    "FaqCalibration",
    "LanguageThreshold",
    "Trial",
    "calibrate_faq",
    "held_out_trials",
    "least_cost_threshold",
    "pick_threshold",
]

# A confidently wrong answer misleads the customer; a decline costs a rephrase (or falls
# through to a passage or a human). Counted as two declines: a product judgement, not a fit.
WRONG_COST = 2.0
DEFAULT_THRESHOLD = 0.55  # the app default (KnowledgeConfig.faq_threshold): the prior
STEP = 0.05  # thresholds tried (a finer grid follows the noise of a small FAQ)
MIN_TRIALS = 20  # held-out questions a language needs before its threshold is fitted
FOLDS = 3  # each entry gives up to this many of its forms, one per fold
MAX_TRIALS = 150  # held-out variants per fold at most (bounds a large FAQ's calibration)
REMOVED_SHARE = 0.1  # of the entries, removed whole in each fold (questions to decline)
LOWEST, HIGHEST = 0.3, 0.95  # a fitted threshold stays in this range
SEED = 20260  # the held-out forms are drawn the same way every build
CALIBRATION_FILE = "calibration.json"  # saved with the index
PASSAGES_KEY = "passages"  # its passage thresholds (passage_calibration.py); other keys: FAQ


@dataclass(frozen=True, slots=True)
class Trial:
    """One held-out question: its language, the top answer's relevance (0: none) and
    whether that answer is the right one (``expected`` None: the FAQ lacks the entry)."""

    language: str
    relevance: float
    right: bool


@dataclass(frozen=True, slots=True)
class LanguageThreshold:
    """A language's FAQ threshold and how it was chosen (``method``: ``leave-one-out`` or
    ``default`` when too few held-out questions), with its held-out precision."""

    threshold: float | None  # None: the app's configured threshold
    method: str
    trials: int
    answered: float | None = None  # share of held-out questions answered at the threshold
    precision: float | None = None  # share of those answered right


@dataclass(frozen=True, slots=True)
class FaqCalibration:
    """The calibrated FAQ thresholds of one index, per language."""

    languages: dict[str, LanguageThreshold]

    def threshold(self, language: str, default: float) -> float:
        """The language's fitted threshold, else ``default`` (the app's configured one)."""
        found = self.languages.get(language)
        return default if found is None or found.threshold is None else found.threshold

    def describe(self, language: str) -> str:
        """How the language's threshold was chosen, in one line (for traces and reports)."""
        found = self.languages.get(language)
        if found is None or found.method == "default":
            trials = found.trials if found else 0
            return f"app default ({trials} held-out questions, fewer than {MIN_TRIALS})"
        return (
            f"leave-one-out over {found.trials} FAQ questions (a wrong answer costs "
            f"{WRONG_COST:g} declines): answered {found.answered:.0%}, precision "
            f"{_percent(found.precision)}"
        )

    def save(self, folder: Path) -> None:
        payload = {lang: asdict(value) for lang, value in self.languages.items()}
        (folder / CALIBRATION_FILE).write_text(json.dumps(payload, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> FaqCalibration | None:
        """The calibration saved in ``folder`` (None: missing or unreadable)."""
        try:
            payload = json.loads((folder / CALIBRATION_FILE).read_text("utf-8"))
            return cls(
                {
                    lang: LanguageThreshold(**value)
                    for lang, value in payload.items()
                    if lang != PASSAGES_KEY
                }
            )
        except (OSError, ValueError, TypeError):
            return None


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


# kept entries and held-out questions (text, the form's row in the full index, the index
# in ``kept`` of the entry that should answer or None) → per question: (relevance, entry)
HeldOutMatcher = Callable[
    [Sequence[FaqEntry], Sequence[tuple[str, int, int | None]]], list[tuple[float, int | None]]
]


def held_out_trials(entries: Sequence[FaqEntry], match: HeldOutMatcher) -> list[Trial]:
    """Ask the FAQ its own held-out forms and removed entries' questions, ``FOLDS`` times."""
    forms = _entry_forms(entries)
    rng = random.Random(SEED)
    remaining = [list(range(len(own))) for own, _ in forms]
    trials: list[Trial] = []
    for _ in range(FOLDS):
        order = list(range(len(entries)))
        rng.shuffle(order)
        removed = set(order[: int(len(entries) * REMOVED_SHARE)])
        asked = set(order[len(removed) : len(removed) + MAX_TRIALS])
        kept: list[FaqEntry] = []
        questions: list[tuple[str, int, int | None]] = []
        for number, entry in enumerate(entries):
            own, first_row = forms[number]
            if number in removed:
                questions.append((own[0], first_row, None))
                continue
            held = None
            if len(own) >= 2 and remaining[number] and number in asked:
                held = remaining[number].pop(rng.randrange(len(remaining[number])))
                questions.append((own[held], first_row + held, len(kept)))
            rest = [text for i, text in enumerate(own) if i != held]
            kept.append(replace(entry, question=rest[0], variants=tuple(rest[1:])))
        if not kept or not questions:
            break
        for (text, _, expected), (relevance, answer) in zip(
            questions, match(kept, questions), strict=True
        ):
            right = expected is not None and answer == expected
            trials.append(Trial(detect_language(text), relevance, right))
    return trials


def least_cost_threshold(
    costs_at: Callable[[float], Sequence[float] | None],
    *,
    lowest: float,
    highest: float,
    default: float,
    step: float = STEP,
) -> float:
    """The threshold on a grid of ``step`` from ``lowest`` to ``highest`` with the least mean
    cost per question (``costs_at``: each question's cost at a threshold, None where that
    threshold is not allowed); ``default`` stays unless the best beats it by more than one
    standard error; ``highest`` when no threshold is allowed. Shared by the FAQ and the
    passage calibration (``passage_calibration.py``)."""
    costs: dict[float, tuple[float, float]] = {}  # threshold → (mean cost, standard error)
    for number in range(round((highest - lowest) / step) + 1):
        threshold = round(lowest + number * step, 4)
        each = costs_at(threshold)
        if not each:
            continue
        mean = sum(each) / len(each)
        spread = (sum((c - mean) ** 2 for c in each) / max(len(each) - 1, 1)) ** 0.5
        costs[threshold] = (mean, spread / len(each) ** 0.5)
    if not costs:
        return highest
    chosen = min(costs, key=lambda threshold: (costs[threshold][0], threshold))
    prior = costs.get(default)
    if prior is not None and prior[0] - costs[chosen][0] <= costs[chosen][1]:
        return default
    return chosen


def pick_threshold(trials: Sequence[Trial]) -> LanguageThreshold:
    """The threshold (on a grid of ``STEP``) with the least mean cost per held-out question,
    a wrong answer costing ``WRONG_COST`` declines, among those where wrong answers are rarer
    than declines. ``DEFAULT_THRESHOLD`` stays unless the best beats it by more than one
    standard error (a small FAQ's curve is noisy: which variants were held out moved the
    demo's English threshold between 0.4 and 0.6). None (the app's own threshold) with
    fewer than ``MIN_TRIALS`` held-out questions."""
    if len(trials) < MIN_TRIALS:
        return LanguageThreshold(None, "default", len(trials))

    def costs_at(threshold: float) -> list[float] | None:
        each = [
            (WRONG_COST if not t.right else 0.0) if t.relevance >= threshold else 1.0
            for t in trials
        ]
        wrong = sum(1 for t in trials if t.relevance >= threshold and not t.right)
        if wrong >= max(len(trials) - sum(t.relevance >= threshold for t in trials), 1):
            return None  # a wrong answer must be rarer than a decline
        return each

    chosen = least_cost_threshold(
        costs_at, lowest=LOWEST, highest=HIGHEST, default=DEFAULT_THRESHOLD
    )
    answered = [t for t in trials if t.relevance >= chosen]
    precision = sum(t.right for t in answered) / len(answered) if answered else None
    return LanguageThreshold(
        chosen,
        "leave-one-out",
        len(trials),
        round(len(answered) / len(trials), 4),
        None if precision is None else round(precision, 4),
    )


def calibrate_faq(entries: Sequence[FaqEntry], match: HeldOutMatcher) -> FaqCalibration:
    """Per language: the FAQ threshold fitted on held-out questions (see the module)."""
    trials = held_out_trials(entries, match) if len(entries) >= 2 else []
    languages = {t.language for t in trials} | {detect_language(e.question) for e in entries}
    return FaqCalibration(
        {
            language: pick_threshold([t for t in trials if t.language == language])
            for language in sorted(languages)
        }
    )


def _entry_forms(entries: Sequence[FaqEntry]) -> list[tuple[list[str], int]]:
    """Per entry: its distinct forms (as the index lists them) and its first form's row."""
    found: list[tuple[list[str], int]] = []
    row = 0
    for entry in entries:
        own = list(dict.fromkeys((entry.question, *entry.variants)))
        found.append((own, row))
        row += len(own)
    return found
