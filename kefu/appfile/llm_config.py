"""The ``llm:`` section of an app file: which model answers, and how it is sampled."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from kefu.appfile._strict import Strict

__all__ = ["LLMConfig", "ProviderConfig", "SamplingConfig", "TokenPrice"]


class SamplingConfig(Strict):
    temperature: float | None = Field(0.3, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int = Field(512, ge=1, le=32_768)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    repetition_penalty: float | None = Field(
        None, gt=0, le=2, description="vLLM/SGLang/llama.cpp extension"
    )
    stop: list[str] = Field(default_factory=list)


class TokenPrice(Strict):
    """What the model's tokens cost, for the cost estimate of service analytics."""

    input_per_million: float = Field(0.0, ge=0, description="price of 1M prompt tokens")
    output_per_million: float = Field(0.0, ge=0, description="price of 1M completion tokens")
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")


class ProviderConfig(Strict):
    """One model endpoint. ``openai`` covers every OpenAI-compatible server."""

    provider: Literal["openai", "llamacpp", "none"] = "none"
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1 for vLLM")
    model: str = Field("", description="model name the server knows, or a label")
    api_key_env: str | None = Field(
        None, description="environment variable holding the API key (never the key itself)"
    )
    model_path: Path | None = Field(None, description="GGUF file for the llamacpp provider")
    threads: int | None = Field(
        None, ge=1, le=512, description="llamacpp: CPU threads (default: llama.cpp's choice)"
    )
    profile: Literal["auto", "default", "qwen3"] = "auto"
    thinking: bool = Field(False, description="Qwen3: let the model think before answering")
    context_window: int = Field(8192, ge=256, le=1_048_576)
    timeout_s: float = Field(30.0, gt=0, le=600)
    retries: int = Field(2, ge=0, le=10)
    price: TokenPrice | None = Field(
        None, description="token prices for analytics' cost estimate (none: cost not shown)"
    )


class LLMConfig(ProviderConfig):
    """The primary model, its fallbacks (tried in order), and sampling for all of them.

    When every model fails the customer still gets the extractive answer.
    """

    sampling: SamplingConfig = SamplingConfig()
    fallbacks: list[ProviderConfig] = Field(default_factory=list)
    rewrite_query: bool = Field(True, description="rewrite follow-ups with the history")
    summarize_history: bool = Field(True, description="summarise turns that no longer fit")
    function_calling: bool = Field(
        True,
        description="offer the app's read-only tools to the model (OpenAI `tools`); tools "
        "that change state (confirm: true) run only from flows, after the customer's yes",
    )
    max_tool_steps: int = Field(
        3, ge=1, le=30, description="model ↔ tool rounds in one turn before it must answer"
    )
    agent: bool = Field(
        False,
        description="agent mode (τ²-style): every message no flow, FAQ or hand-over took goes "
        "to the model with all the app's tools, those that change state included (the "
        "persona's policy says when: e.g. only after the customer's explicit yes), and "
        "the model sees the tool results of earlier turns",
    )
    circuit_failures: int = Field(3, ge=1, le=100, description="failures that open the circuit")
    circuit_reset_s: float = Field(30.0, gt=0, le=3600, description="how long it stays open")
