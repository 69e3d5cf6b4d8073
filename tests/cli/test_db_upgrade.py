"""``kefu db upgrade`` migrates the database once and exits (the deployments' migration Job)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

import kefu.store
from kefu.cli.main import app

runner = CliRunner()


def newest_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(Path(kefu.store.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_upgrade_creates_the_schema_and_says_its_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEFU_DATABASE_URL", raising=False)
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert f"revision {newest_revision()}" in result.output
    with sqlite3.connect(data_dir / "kefu.db") as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master")}
        [(version,)] = db.execute("select version_num from alembic_version").fetchall()
    assert {"apps", "conversations", "messages"} <= tables
    assert version == newest_revision()
    again = runner.invoke(app, ["db", "upgrade", "--data-dir", str(data_dir)])  # idempotent
    assert again.exit_code == 0 and f"revision {newest_revision()}" in again.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nosuchdb://x", "unsupported database 'nosuchdb'"),
        ("sqlite:///{tmp}/a-file/kefu.db", "a-file"),  # a file where a folder should be
    ],
)
def test_a_bad_database_url_is_one_clear_line(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("KEFU_DATABASE_URL", url.format(tmp=tmp_path))
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert says in result.output and "Traceback" not in result.output
