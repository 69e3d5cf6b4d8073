"""`kefu eval intent`: train on one JSONL file, score on another, report per intent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from kefu.appfile.nlu_config import IntentSettings
from kefu.cli.eval import eval_app

FIXTURES = Path(__file__).parents[1] / "fixtures"
TRAIN = str(FIXTURES / "intents_train.jsonl")
TEST = str(FIXTURES / "intents_test.jsonl")

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(eval_app, ["intent", "--train", TRAIN, "--test", TEST, *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_prints_one_object_with_the_scores() -> None:
    code, stdout, _ = run("--json", "--no-embeddings")
    assert code == 0, stdout
    metrics = json.loads(stdout)
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["ms_per_query"] > 0 and metrics["train_seconds"] > 0
    assert metrics["examples"] == 52 and metrics["test_examples"] == 16
    assert metrics["intents"] == 6
    assert metrics["in_scope_accuracy"] == 1.0
    assert metrics["oos_recall"] >= 2 / 3
    assert metrics["features"] == [
        "char n-grams",
        "word n-grams",
    ]  # few Chinese examples: no tagger


def test_feature_switches_reach_the_classifier() -> None:
    code, stdout, _ = run("--json", "--no-embeddings", "--no-char-ngrams", "--no-pos-tags")
    assert code == 0, stdout
    assert json.loads(stdout)["features"] == ["word n-grams"]


def test_threshold_one_sends_everything_out_of_scope() -> None:
    code, stdout, _ = run("--json", "--no-embeddings", "--threshold", "1")
    metrics = json.loads(stdout)
    assert code == 0
    assert (metrics["in_scope_accuracy"], metrics["oos_recall"]) == (0.0, 1.0)


def test_without_oos_rows_oos_recall_is_null(tmp_path: Path) -> None:
    in_scope = tmp_path / "in_scope.jsonl"
    lines = Path(TEST).read_text(encoding="utf-8").splitlines()
    in_scope.write_text(
        "\n".join(line for line in lines if '"oos"' not in line) + "\n", encoding="utf-8"
    )
    result = runner.invoke(
        eval_app, ["intent", "--train", TRAIN, "--test", str(in_scope), "--json", "--no-embeddings"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["oos_recall"] is None


def test_table_names_the_features_and_scores() -> None:
    code, stdout, _ = run("--no-embeddings")
    assert code == 0, stdout
    for text in ("char n-grams", "accuracy", "out-of-scope recall", "ms per query", "training"):
        assert text in stdout


def test_report_writes_per_intent_rows_and_the_confusion_matrix(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the confusion matrix needs matplotlib")
    code, stdout, _ = run("--no-embeddings", "--report", str(tmp_path / "report"))
    assert code == 0, stdout
    report = json.loads((tmp_path / "report" / "intent_report.json").read_text(encoding="utf-8"))
    refund = report["after_sales.refund.status"]
    assert refund["support"] == 2
    assert {"precision", "recall", "f1-score", "confused_with"} <= refund.keys()
    assert len(report["oos"]["confused_with"]) <= 3
    errors = json.loads((tmp_path / "report" / "intent_errors.json").read_text(encoding="utf-8"))
    assert all(error["intent"] != (error["intent_prediction"]["name"] or "oos") for error in errors)
    assert (tmp_path / "report" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"text": "hi", "label": "greeting"}\n{"text": "oops"\n', "line 2: invalid JSON"),
        ('{"text": "hi"}\n', 'line 1: expected an object with "text" and "label"'),
        ('["hi", "greeting"]\n', 'line 1: expected an object with "text" and "label"'),
        ("\n\n", "no examples"),
    ],
)
def test_bad_file_is_one_line_and_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    result = runner.invoke(eval_app, ["intent", "--train", str(bad), "--test", TEST])
    assert result.exit_code == 2
    assert expected in result.stderr and str(bad) in result.stderr
    assert "Traceback" not in result.output


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    """One unwrapped line whatever the terminal's width (a long path would wrap at 80)."""
    missing = tmp_path / ("a-long-folder-name-" * 5) / "nope.jsonl"
    result = runner.invoke(eval_app, ["intent", "--train", TRAIN, "--test", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_out_of_range_setting_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(
        eval_app,
        ["intent", "--train", str(TRAIN), "--test", str(TEST), "--regularization", "0"],
    )
    assert result.exit_code == 2
    assert "regularization" in result.output and "Traceback" not in result.output


def test_without_embeddings_the_lexical_baseline_is_the_classifier_itself() -> None:
    code, stdout, _ = run("--json", "--no-embeddings")
    assert code == 0, stdout
    metrics = json.loads(stdout)
    lexical = metrics["lexical"]
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "top1_accuracy", "oos_recall"):
        assert lexical[key] == metrics[key], key
    assert lexical["features"] == metrics["features"]


class KeywordEmbedder:
    """Two dimensions, 'refund' or not: a stand-in encoder, so the baseline is trained apart."""

    name = "keyword"
    dim = 2

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = [[1.0, 0.0] if "refund" in text or "退款" in text else [0.0, 1.0] for text in texts]
        return np.array(rows, dtype=np.float32)


def test_with_embeddings_the_same_run_reports_the_words_only_classifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def resolve(settings: IntentSettings, *_: object) -> KeywordEmbedder | None:
        return None if settings.embeddings == "off" else KeywordEmbedder()

    monkeypatch.setattr("kefu.nlu.intent.classifier._resolve_embedder", resolve)
    code, stdout, _ = run("--json")
    assert code == 0, stdout
    metrics = json.loads(stdout)
    assert metrics["features"][-1] == "sentence embeddings (keyword)"
    assert metrics["lexical"]["features"] == ["char n-grams", "word n-grams"]
    assert 0.0 <= metrics["lexical"]["top1_accuracy"] <= 1.0
    assert metrics["lexical"]["threshold_source"] == "default"

    code, stdout, _ = run("--json", "--no-lexical-baseline")
    assert code == 0, stdout
    assert "lexical" not in json.loads(stdout)

    code, stdout, _ = run()
    assert code == 0, stdout
    assert "lexical only (same run)" in stdout
