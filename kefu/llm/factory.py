"""Build an app's chat model from its ``llm:`` config and the ``KEFU_LLM_*`` overrides."""

from __future__ import annotations

import os

from kefu.appfile.llm_config import LLMConfig, ProviderConfig
from kefu.core.errors import ConfigError
from kefu.llm.base import ChatModel
from kefu.llm.fallback import BreakerStates, FallbackChain

__all__ = ["LLMOverrides", "build_chat_model"]


class LLMOverrides:
    """``KEFU_LLM_BASE_URL`` / ``KEFU_LLM_MODEL`` / ``KEFU_LLM_API_KEY`` for the primary model."""

    def __init__(
        self, base_url: str | None = None, model: str | None = None, api_key: str | None = None
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key = api_key

    def apply(self, config: LLMConfig) -> LLMConfig:
        update: dict[str, object] = {}
        if self.base_url:
            update.update(provider="openai", base_url=self.base_url)
        if self.model:
            update["model"] = self.model
        return config.model_copy(update=update) if update else config


def _one(config: ProviderConfig, api_key: str | None, where: str) -> ChatModel | None:
    if config.provider == "none":
        return None
    if config.provider == "openai":
        from kefu.llm.openai_compat import OpenAIChatModel

        if not config.base_url:
            raise ConfigError("the openai provider needs base_url", key=f"{where}.base_url")
        if api_key is None and config.api_key_env:
            api_key = os.environ.get(config.api_key_env)
            if not api_key:
                raise ConfigError(
                    f"environment variable {config.api_key_env} is not set",
                    key=f"{where}.api_key_env",
                )
        return OpenAIChatModel(config, api_key)
    from kefu.llm.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel(config, where)


def build_chat_model(
    config: LLMConfig,
    overrides: LLMOverrides | None = None,
    breakers: BreakerStates | None = None,
) -> ChatModel | None:
    """The app's model chain, or ``None`` when it answers extractively (provider ``none``);
    its circuit breakers keep their state in ``breakers`` (in this process when None)."""
    overrides = overrides or LLMOverrides()
    config = overrides.apply(config)
    primary = _one(config, overrides.api_key, "llm")
    if primary is None:
        return None
    models = [primary]
    for index, fallback in enumerate(config.fallbacks):
        model = _one(fallback, None, f"llm.fallbacks.{index}")
        if model is not None:
            models.append(model)
    return FallbackChain(models, config.circuit_failures, config.circuit_reset_s, breakers)
