"""``kefu eval agent``: bad choices end with one clear line and status 2, before anything
starts (no shop, no kefu, no model call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli.eval_agent import find_tau2_data
from kefu.cli.main import app as kefu_app
from kefu.core.errors import ConfigError


@pytest.fixture(scope="module")
def data() -> Path:
    try:
        return find_tau2_data(None)
    except ConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent: {exc}")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tasks", "0,999"], "no τ² task with id 999"),
        (["--split", "dev"], "no split 'dev'; the file has base, test, train"),
        (["--server", "http://127.0.0.1:1"], "--server needs --api-key"),
    ],
)
def test_bad_choices(data: Path, arguments: list[str], message: str, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    result = CliRunner().invoke(
        kefu_app, ["eval", "agent", "--data", str(data), "--output", str(output), *arguments]
    )
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not output.exists()


def test_a_folder_without_tasks(tmp_path: Path) -> None:
    result = CliRunner().invoke(kefu_app, ["eval", "agent", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "holds no tasks.json" in " ".join(result.output.split())
