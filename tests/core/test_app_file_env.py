"""``${NAME}`` / ``${NAME:-default}`` in an app file: per-deployment URLs from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.appfile.app_config import load_app_config
from kefu.appfile.env_vars import expand_env
from kefu.core.errors import ConfigError

APP = """
name: envshop
llm:
  provider: openai
  base_url: ${SHOP_LLM_URL}
  model: ${SHOP_LLM_MODEL:-qwen3-8b}
  fallbacks:
    - {provider: openai, base_url: "${SHOP_FALLBACK_URL:-http://127.0.0.1:8001/v1}"}
handoff:
  webhooks:
    - {url: "${SHOP_WEBHOOK_URL}/kefu", secret_env: SHOP_HOOK_SECRET}
persona: "Prices like $${PRICE} are quoted literally."
"""


def write(tmp_path: Path) -> Path:
    path = tmp_path / "envshop.yaml"
    path.write_text(APP, encoding="utf-8")
    return path


def test_urls_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_LLM_URL", "http://vllm.prod:8000/v1")
    monkeypatch.setenv("SHOP_WEBHOOK_URL", "https://crm.example.com")
    config = load_app_config(write(tmp_path))
    assert config.llm.base_url == "http://vllm.prod:8000/v1"
    assert config.llm.model == "qwen3-8b"  # the default
    assert config.llm.fallbacks[0].base_url == "http://127.0.0.1:8001/v1"
    assert config.handoff.webhooks[0].url == "https://crm.example.com/kefu"
    assert config.persona == "Prices like ${PRICE} are quoted literally."


def test_an_unset_variable_names_the_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_LLM_URL", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_app_config(write(tmp_path))
    assert caught.value.file == str(tmp_path / "envshop.yaml")
    assert caught.value.key == "llm.base_url"
    assert "SHOP_LLM_URL is not set" in caught.value.message


def test_tool_templates_are_left_for_call_time() -> None:
    data = {"tools": [{"url": "{env.SHOP_URL|http://x}/orders/{order_id}"}], "n": 3}
    assert expand_env(data, file="a.yaml", environ={}) == data
