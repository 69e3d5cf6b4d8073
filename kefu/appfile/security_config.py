"""The ``security:`` and ``safety:`` sections of an app file."""

from __future__ import annotations

from pydantic import Field

from kefu.appfile._strict import Strict

__all__ = ["SafetyConfig", "SecurityConfig"]


class SecurityConfig(Strict):
    """Who may call the app, how often, and how long its conversations are kept."""

    cors_origins: list[str] = Field(
        default_factory=list, description="web origins allowed to call the API from a browser"
    )
    key_rate_per_s: float = Field(
        0.0, ge=0, description="sustained requests/s per API key (0: unlimited)"
    )
    key_burst: int = Field(200, ge=1, description="requests a key may send at once")
    user_rate_per_s: float = Field(
        2.0, ge=0, description="sustained messages/s per end user (0: unlimited)"
    )
    user_burst: int = Field(20, ge=1, description="messages an end user may send at once")
    max_concurrent_turns: int = Field(
        256, ge=1, description="answers being produced at once for this app"
    )
    retention_days: int = Field(
        0, ge=0, description="delete messages and traces older than this (0: keep)"
    )


class SafetyConfig(Strict):
    """What customers may say and what the bot may answer."""

    sensitive_words: list[str] = Field(default_factory=list, description="added to the default")
    allowed_words: list[str] = Field(
        default_factory=list, description="default words this app allows"
    )
    default_word_list: bool = True
    block_injection: bool = Field(True, description="refuse prompt-injection attempts")
    llm_guard: bool = Field(
        False,
        description="with a model: ask it whether a question that reaches generation is a "
        "jailbreak or off-topic before answering (one short extra call)",
    )
    mask_pii_in_prompts: bool = Field(True, description="mask PII before it reaches an LLM")
    mask_pii_in_traces: bool = Field(True, description="mask PII in traces and logs")
    store_raw_messages: bool = Field(
        True, description="store what the customer wrote; false stores it PII-masked"
    )
