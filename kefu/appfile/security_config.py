"""The ``security:`` and ``safety:`` sections of an app file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from kefu.appfile._strict import Strict
from kefu.appfile.widget_config import WidgetConfig

__all__ = ["IdentityConfig", "SafetyConfig", "SecurityConfig", "WebConfig"]

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
IdentityMethod = Literal["hmac", "jwt"]
_METHODS: tuple[IdentityMethod, ...] = ("hmac", "jwt")


class IdentityConfig(Strict):
    """How the integrator's backend proves who its customer is (docs/security.md).

    ``X-Kefu-User-Signature: hex(HMAC-SHA256(secret, user))`` next to the ``user`` it signs,
    or ``X-Kefu-User-Token: <JWT>`` whose ``sub`` is the user (HS256 with the secret, RS256
    with the public key). The secret and key are read from the environment, never the file.
    """

    required: bool = Field(
        False, description="refuse a bare `user` on the service API: only signed identities"
    )
    methods: list[IdentityMethod] = Field(
        default_factory=lambda: list(_METHODS), description="accepted proofs"
    )
    secret_env: str | None = Field(
        None,
        pattern=_ENV_NAME,
        description="environment variable holding the app's identity secret (HMAC, HS256)",
    )
    jwt_public_key_env: str | None = Field(
        None, pattern=_ENV_NAME, description="environment variable holding a PEM key (RS256)"
    )
    jwt_public_key_file: Path | None = Field(None, description="PEM public key file (RS256)")
    jwt_audience: str | None = Field(None, description="required `aud` of a JWT")
    jwt_issuer: str | None = Field(None, description="required `iss` of a JWT")
    max_token_age_s: int = Field(
        86400, ge=60, description="a JWT must expire within this long of being checked"
    )
    rate_per_s: float = Field(5.0, ge=0, description="requests/s per verified user (0: off)")
    burst: int = Field(50, ge=1, description="requests a verified user may send at once")

    @model_validator(mode="after")
    def _has_a_key(self) -> IdentityConfig:
        has_key = bool(self.secret_env or self.jwt_public_key_env or self.jwt_public_key_file)
        if self.required and not has_key:
            raise ValueError(
                "required: true needs secret_env (HMAC/HS256) or a JWT public key (RS256)"
            )
        return self


class WebConfig(Strict):
    """The app's public chat page (and widget): off unless the app file says so."""

    public: bool = Field(False, description="serve the chat page and hand out per-visitor sessions")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="other web origins that may open sessions (kefu's own origin always may)",
    )
    session_rate_per_s: float = Field(
        3.0, ge=0, description="requests/s per page session (0: unlimited)"
    )
    session_burst: int = Field(30, ge=1, description="requests a page session may send at once")
    widget: WidgetConfig = Field(
        default_factory=WidgetConfig, description="the embeddable widget's theme (widget.js)"
    )


class SecurityConfig(Strict):
    """Who may call the app, how often, and how long its conversations are kept."""

    cors_origins: list[str] = Field(
        default_factory=list, description="web origins allowed to call the API from a browser"
    )
    key_rate_per_s: float | None = Field(
        None,
        ge=0,
        description="sustained requests/s per API key (0: unlimited; default "
        "KEFU_KEY_RATE_PER_S, 50)",
    )
    key_burst: int | None = Field(
        None, ge=1, description="requests a key may send at once (default KEFU_KEY_BURST, 200)"
    )
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
    identity: IdentityConfig = Field(
        default_factory=IdentityConfig, description="signed end-user identities"
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
