"""``kefu eval injection``: the bundled attacks and look-alikes (kefu/safety/data/
injection_eval.jsonl, written before tuning; docs/security.md has the numbers)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kefu.cli.main import app as kefu_app

# Achieved: 99.7 % recall, 0.0 % false positives (before this work: 23.5 % and 0.7 %).
# Floors only catch regressions; the targets are ≥ 90 % and ≤ 2 %.
MIN_RECALL = 0.99
MAX_FALSE_POSITIVES = 0.0


def test_the_bundled_set_meets_its_floor() -> None:
    result = CliRunner().invoke(kefu_app, ["eval", "injection", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["attacks"] >= 200 and report["benign"] >= 200
    assert len(report["recall_by_disguise"]) >= 15
    assert set(report["recall_by_lang"]) == {"en", "zh", "mixed"}
    assert report["recall"] >= MIN_RECALL, report["missed"]
    assert report["false_positive_rate"] <= MAX_FALSE_POSITIVES, report["false_positives"]
    for group in report["recall_by_lang"].values():
        assert group["flagged"] >= 0.95


def test_the_table_names_both_numbers() -> None:
    result = CliRunner().invoke(kefu_app, ["eval", "injection"])
    assert result.exit_code == 0, result.output
    assert "recall (attacks flagged)" in result.stdout
    assert "false positives (look-alikes flagged)" in result.stdout
    assert "disguise=zero_width" in result.stdout


def test_a_bad_cases_file_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "cases.jsonl"
    bad.write_text('{"text": "hi", "label": "maybe"}\n', encoding="utf-8")
    result = CliRunner().invoke(kefu_app, ["eval", "injection", "--cases", str(bad)])
    assert result.exit_code == 2
    assert "line 1: expected a text and a label (attack or benign)" in result.stderr
