"""KEFU_SECRETS_DIR: settings from Docker/Compose secret files; the environment still wins."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert settings.database_url == "postgresql://kefu:pw@postgres:5432/kefu"
    assert "admin-from-a-file" not in repr(settings)
    assert settings.llm_api_key is None  # no file, no variable


def test_the_environment_wins_over_a_file(secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("KEFU_ADMIN_KEY", "admin-from-env")
    settings = Settings()
    assert settings.admin_key is not None
    assert settings.admin_key.get_secret_value() == "admin-from-env"
