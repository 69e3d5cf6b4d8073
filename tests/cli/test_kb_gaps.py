"""`kefu kb gaps`: unanswered questions grouped, read straight from the database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli.main import app
from kefu.services.chat import ChatRequest
from kefu.services.runtime import Runtime
from tests.conftest import TINY_APP, make_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir where customers asked the tiny app what it cannot answer."""
    folder = tmp_path_factory.mktemp("gaps") / "data"
    runtime = Runtime.build(make_settings(folder), [TINY_APP])
    tiny = runtime.apps.get("tiny")

    async def ask_all() -> None:
        for n, query in enumerate(
            ["Do you sell bicycles?", "do you sell bicycles", "Do you ship to Mars?",
             "What are your opening hours?"]
        ):  # fmt: skip
            turn = await runtime.chat.prepare(ChatRequest(app=tiny, user=f"u{n}", query=query))
            await runtime.chat.answer(turn)
        await runtime.aclose_models()

    try:
        asyncio.run(ask_all())
    finally:
        runtime.close()
    return folder


def test_json_report(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["kb", "gaps", "--app", "tiny", "--data-dir", str(data_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.stdout)
    assert report["app"] == "tiny" and report["days"] == 7 and report["questions"] == 3
    assert [(g["question"], g["count"]) for g in report["groups"]] == [
        ("Do you sell bicycles?", 2),
        ("Do you ship to Mars?", 1),
    ]


def test_table_report_for_every_app(data_dir: Path) -> None:
    result = runner.invoke(app, ["kb", "gaps", "--data-dir", str(data_dir), "--days", "30"])
    assert result.exit_code == 0, result.output
    assert "tiny: 3 unanswered questions, last 30 days" in result.stdout
    assert "Do you sell bicycles?" in result.stdout and "opening hours" not in result.stdout


def test_unknown_app_is_one_clear_line(data_dir: Path) -> None:
    result = runner.invoke(app, ["kb", "gaps", "--app", "nope", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "no app named 'nope'" in result.output and "tiny" in result.output
    assert "Traceback" not in result.output
