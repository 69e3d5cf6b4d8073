"""FAQ thresholds calibrated per app and language from the app's own FAQ (leave-one-out)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from kefu.appfile.app_config import AppConfig, KnowledgeConfig
from kefu.core.types import FaqEntry
from kefu.engine.app import AppRuntime
from kefu.knowledge import KnowledgeIndex, calibration
from kefu.knowledge.calibration import (
    DEFAULT_THRESHOLD,
    HIGHEST,
    LOWEST,
    MIN_TRIALS,
    FaqCalibration,
    Trial,
    calibrate_faq,
    pick_threshold,
)

# Distinct topics, three ways to ask each: the held-out form shares its topic words.
TOPICS = [
    ("cancel", "order"),
    ("track", "parcel"),
    ("change", "address"),
    ("reset", "password"),
    ("redeem", "coupon"),
    ("download", "invoice"),
    ("return", "shoes"),
    ("exchange", "size"),
    ("upgrade", "membership"),
    ("delete", "account"),
    ("update", "phone"),
    ("pay", "installments"),
    ("gift", "wrapping"),
    ("book", "repair"),
    ("claim", "warranty"),
    ("report", "damage"),
    ("unsubscribe", "newsletter"),
    ("merge", "carts"),
    ("split", "shipment"),
    ("print", "label"),
    ("schedule", "pickup"),
    ("verify", "email"),
    ("transfer", "points"),
    ("rate", "seller"),
]


def english_faq() -> list[FaqEntry]:
    return [
        FaqEntry(
            f"en-{number}",
            f"How do I {verb} my {noun}?",
            f"Answer {number}.",
            (f"{verb} {noun}", f"can I {verb} the {noun} online"),
        )
        for number, (verb, noun) in enumerate(TOPICS)
    ]


def test_the_app_default_is_the_knowledge_config_default() -> None:
    assert DEFAULT_THRESHOLD == KnowledgeConfig().faq_threshold


def test_too_few_held_out_questions_keep_the_app_threshold() -> None:
    chosen = pick_threshold([Trial("en", 0.9, True)] * (MIN_TRIALS - 1))
    assert chosen.threshold is None and chosen.method == "default"
    assert FaqCalibration({"en": chosen}).threshold("en", 0.42) == 0.42


def test_the_threshold_separates_right_answers_from_wrong_ones() -> None:
    # Right answers score 0.7-0.95, wrong ones 0.3-0.5: the default 0.55 is no worse than
    # anything else by more than noise, so it stays; it answers every right one.
    trials = [Trial("en", 0.7 + 0.01 * i, True) for i in range(25)]
    trials += [Trial("en", 0.3 + 0.01 * i, False) for i in range(20)]
    chosen = pick_threshold(trials)
    assert chosen.method == "leave-one-out" and chosen.trials == 45
    assert 0.5 <= chosen.threshold <= 0.7  # type: ignore[operator]
    assert chosen.precision == 1.0 and chosen.answered == pytest.approx(25 / 45, abs=1e-4)


def test_a_faq_that_confuses_its_entries_answers_only_when_sure() -> None:
    # Half the top answers are wrong at every level below 0.9: the default would answer
    # wrongly more often than it declines, so the threshold rises above it.
    trials = [Trial("zh", 0.5 + 0.01 * (i % 30), i % 2 == 0) for i in range(60)]
    trials += [Trial("zh", 0.92, True) for _ in range(10)]
    at_default = [t for t in trials if t.relevance >= DEFAULT_THRESHOLD]
    assert sum(not t.right for t in at_default) >= len(trials) - len(at_default)
    chosen = pick_threshold(trials)
    assert chosen.threshold is not None and chosen.threshold >= 0.7
    answered = [t for t in trials if t.relevance >= chosen.threshold]
    wrong = sum(not t.right for t in answered)
    assert wrong < len(trials) - len(answered)  # a wrong answer rarer than a decline


def test_nothing_right_declines_everything() -> None:
    chosen = pick_threshold([Trial("en", 0.6, False)] * 30)
    assert chosen.threshold is not None and chosen.threshold > 0.6
    assert chosen.answered == 0.0 and chosen.precision is None


def test_languages_are_calibrated_apart() -> None:
    entries = [*english_faq()]
    entries += [
        FaqEntry(f"zh-{i}", f"问题{i}怎么办", "答案", (f"问题{i}如何处理", f"问题{i}咋办"))
        for i in range(24)
    ]

    def match(
        kept: Sequence[FaqEntry], asked: Sequence[tuple[str, int, int | None]]
    ) -> list[tuple[float, int | None]]:
        # English: always right and sure (nothing for a removed entry's question);
        # Chinese: a wrong entry at 0.7 every other time.
        found: list[tuple[float, int | None]] = []
        for number, (text, _, expected) in enumerate(asked):
            if text.isascii():
                found.append((0.95, expected) if expected is not None else (0.0, None))
            else:
                found.append((0.7, expected if number % 2 else -1))
        return found

    calibrated = calibrate_faq(entries, match)
    assert set(calibrated.languages) == {"en", "zh"}
    english, chinese = calibrated.languages["en"], calibrated.languages["zh"]
    assert english.method == chinese.method == "leave-one-out"
    assert english.threshold == DEFAULT_THRESHOLD and english.precision == 1.0
    assert chinese.threshold is not None and chinese.threshold > 0.7  # declines the coin flips
    assert "leave-one-out over" in calibrated.describe("zh")


def test_a_small_app_is_calibrated_at_index_time_and_keeps_it_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = KnowledgeIndex(tmp_path)
    index.rebuild(english_faq(), [])
    english = index.calibration.languages["en"]
    assert english.method == "leave-one-out" and english.trials >= MIN_TRIALS
    assert english.threshold is not None and LOWEST <= english.threshold <= HIGHEST
    assert english.precision is not None and english.precision >= 0.8  # distinct topics
    assert list(tmp_path.glob("index-*/calibration.json"))

    def refit(*_: object) -> FaqCalibration:
        raise AssertionError("a saved calibration is loaded, not fitted again")

    monkeypatch.setattr(calibration, "calibrate_faq", refit)
    monkeypatch.setattr("kefu.knowledge._index_fit.calibrate_faq", refit)
    reloaded = KnowledgeIndex(tmp_path)
    assert reloaded.load(index.fingerprint or "")
    assert reloaded.calibration == index.calibration


def test_a_threshold_in_the_app_file_overrides_the_calibration() -> None:
    index = KnowledgeIndex()
    index.rebuild(english_faq(), [])
    fitted = index.calibration.threshold("en", -1.0)
    assert fitted != -1.0
    calibrated = AppRuntime("a", AppConfig.model_validate({"name": "a"}), index)
    assert calibrated.faq_threshold("en") == fitted
    # a language the FAQ does not hold gets the configured default
    assert calibrated.faq_threshold("zh") == DEFAULT_THRESHOLD
    assert calibrated.describe_faq_thresholds().startswith(f"en {fitted}: leave-one-out over")
    pinned = AppConfig.model_validate({"name": "a", "knowledge": {"faq_threshold": 0.8}})
    assert AppRuntime("a", pinned, index).faq_threshold("en") == 0.8
    assert AppRuntime("a", pinned, index).describe_faq_thresholds() == "0.8 (set in the app file)"


def test_an_index_without_calibration_keeps_the_configured_threshold() -> None:
    index = KnowledgeIndex(calibrate=False)  # e.g. annotations: their own score_threshold
    index.rebuild(english_faq(), [])
    assert index.calibration.languages == {}
    app = AppRuntime("a", AppConfig.model_validate({"name": "a"}), index)
    assert app.faq_threshold("en") == DEFAULT_THRESHOLD
    assert app.describe_faq_thresholds() == "0.55 (app default)"


def test_every_fold_holds_out_a_new_form_of_every_entry_it_asks() -> None:
    """Forms are drawn from all of an entry's forms, not its first two: with five forms per
    entry all three folds ask every kept entry, and never the same form twice."""
    entries = [
        FaqEntry(f"e{n}", f"question {n}", "answer", tuple(f"variant {n} {k}" for k in range(4)))
        for n in range(40)
    ]
    folds: list[list[tuple[str, int, int | None]]] = []

    def record(
        kept: Sequence[FaqEntry], asked: Sequence[tuple[str, int, int | None]]
    ) -> list[tuple[float, int | None]]:
        folds.append(list(asked))
        return [(0.0, None)] * len(asked)

    calibration.held_out_trials(entries, record)
    removed = int(len(entries) * calibration.REMOVED_SHARE)
    assert [len(fold) for fold in folds] == [len(entries)] * calibration.FOLDS
    for fold in folds:
        assert sum(expected is not None for *_, expected in fold) == len(entries) - removed
    held = [text for fold in folds for text, _, expected in fold if expected is not None]
    assert len(held) == len(set(held))
    assert any(text.startswith("variant") and not text.endswith((" 0", " 1")) for text in held)
