"""Choosing the model from the app file and the KEFU_LLM_* overrides."""

from __future__ import annotations

import pytest

from kefu.appfile.llm_config import LLMConfig, ProviderConfig
from kefu.core.errors import ConfigError
from kefu.llm.factory import LLMOverrides, build_chat_model
from kefu.llm.fallback import FallbackChain
from kefu.llm.openai_compat import OpenAIChatModel


def test_none_means_extractive() -> None:
    assert build_chat_model(LLMConfig()) is None


def test_overrides_turn_on_an_openai_compatible_model() -> None:
    model = build_chat_model(
        LLMConfig(), LLMOverrides(base_url="http://gpu:8000/v1", model="Qwen/Qwen3-8B")
    )
    assert isinstance(model, FallbackChain)
    assert isinstance(model.models[0], OpenAIChatModel)
    assert model.name == "openai:Qwen/Qwen3-8B@http://gpu:8000/v1"


def test_fallbacks_are_chained_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test")
    config = LLMConfig(
        provider="openai",
        base_url="http://local:8000/v1",
        model="qwen3-8b",
        fallbacks=[
            ProviderConfig(
                provider="openai",
                base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
                model="qwen-plus",
                api_key_env="DASHSCOPE_API_KEY",
            )
        ],
    )
    model = build_chat_model(config)
    assert isinstance(model, FallbackChain)
    assert [m.name.split("@")[0] for m in model.models] == ["openai:qwen3-8b", "openai:qwen-plus"]


def test_missing_api_key_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    config = LLMConfig(provider="openai", base_url="http://x/v1", api_key_env="NO_SUCH_KEY_VAR")
    with pytest.raises(ConfigError) as caught:
        build_chat_model(config)
    assert caught.value.key == "llm.api_key_env" and "NO_SUCH_KEY_VAR" in caught.value.message


def test_openai_provider_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        build_chat_model(LLMConfig(provider="openai"))


def test_request_carries_sampling_and_the_qwen3_switch() -> None:
    from kefu.appfile.llm_config import SamplingConfig
    from kefu.llm.base import ChatMessage

    model = OpenAIChatModel(
        ProviderConfig(provider="openai", base_url="http://x/v1", model="Qwen/Qwen3-8B"), None
    )
    sampling = SamplingConfig(
        temperature=0.2, top_p=0.8, max_tokens=64, presence_penalty=0.5,
        repetition_penalty=1.1, stop=["\n\n"],
    )  # fmt: skip
    request = model._request([ChatMessage("user", "hi")], sampling)
    assert request["model"] == "Qwen/Qwen3-8B" and request["max_tokens"] == 64
    assert request["temperature"] == 0.2 and request["top_p"] == 0.8
    assert request["presence_penalty"] == 0.5 and request["stop"] == ["\n\n"]
    assert "frequency_penalty" not in request
    assert request["extra_body"] == {
        "chat_template_kwargs": {"enable_thinking": False},
        "repetition_penalty": 1.1,
    }
