"""KEFU_SECRETS_DIR: settings from Docker/Compose secret files; the environment still wins;
the deployment templates' CHANGE-ME placeholder never becomes a working key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from kefu.cli.main import app
from kefu.core.settings import Settings


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("KEFU_ADMIN_KEY", "KEFU_DATABASE_URL", "KEFU_LLM_API_KEY", "KEFU_SECRETS_DIR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "kefu_admin_key").write_text("admin-from-a-file\n")
    (tmp_path / "kefu_database_url").write_text("postgresql://kefu:pw@postgres:5432/kefu")
    return tmp_path


def test_secret_files_are_read_only_when_the_folder_is_named(
    secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().admin_key is None
    monkeypatch.setenv("KEFU_SECRETS_DIR", str(secrets))
    settings = Settings()
    assert settings.admin_key is not None
    assert settings.admin_key.get_secret_value() == "admin-from-a-file"  # newline stripped
    assert settings.resolved_database_url() == "postgresql://kefu:pw@postgres:5432/kefu"
    assert "admin-from-a-file" not in repr(settings)
    assert settings.llm_api_key is None  # no file, no variable


def test_the_environment_wins_over_a_file(secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("KEFU_ADMIN_KEY", "admin-from-env")
    settings = Settings()
    assert settings.admin_key is not None
    assert settings.admin_key.get_secret_value() == "admin-from-env"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KEFU_ADMIN_KEY", "CHANGE-ME"),
        ("KEFU_DATABASE_URL", "postgresql://kefu:CHANGE-ME@postgres:5432/kefu"),
        ("KEFU_LLM_API_KEY", "CHANGE-ME"),
        ("KEFU_REDIS_URL", "redis://:CHANGE-ME@redis:6379/0"),
        ("KEFU_SECRET_KEY", "CHANGE-ME-CHANGE-ME-CHANGE-ME"),
    ],
)
def test_a_template_placeholder_is_refused_not_used_as_a_key(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=f"{variable} still holds the template's CHANGE-ME"):
        Settings()


def test_serve_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KEFU_ADMIN_KEY", "CHANGE-ME")
    result = CliRunner().invoke(app, ["serve", "--demo", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "KEFU_ADMIN_KEY still holds the template's CHANGE-ME" in result.output
    assert "Traceback" not in result.output
