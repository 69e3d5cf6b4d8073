"""Server settings, read once at start-up from ``KEFU_*`` environment variables.

With ``KEFU_SECRETS_DIR`` (Docker and Compose secrets: ``/run/secrets``) a setting may also
come from a file named after its variable in lower case (``kefu_admin_key``,
``kefu_database_url``); an environment variable still wins over a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

__all__ = ["PLACEHOLDER", "SECRETS_DIR_VARIABLE", "Settings"]

SECRETS_DIR_VARIABLE = "KEFU_SECRETS_DIR"  # a folder of secret files (Docker secrets)

PLACEHOLDER = "CHANGE-ME"  # what deploy/ templates hold where a secret goes


class Settings(BaseSettings):
    """Process-wide settings. Secrets are ``SecretStr`` so they never reach logs or reprs."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="SQLite file, indexes and caches")
    database_url: SecretStr | None = Field(
        None,
        description="sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB (the postgres "
        "extra); default sqlite:///<data_dir>/kefu.db. Secret: it may hold a password",
    )
    redis_url: SecretStr | None = Field(
        None,
        description="redis://host:6379/0: stop signals, rate limits, live events, turn locks, "
        "caches and circuit breakers shared by every replica (none: one process, in memory)",
    )
    redis_timeout_s: float = Field(
        0.25, gt=0, le=10, description="socket timeout of each Redis call (then its fallback)"
    )
    turn_lock_timeout_s: float = Field(
        30.0,
        gt=0,
        description="how long a message waits for the answer to the conversation's previous "
        "one before it is refused with 409",
    )
    session_ttl_s: float | None = Field(
        None,
        gt=0,
        description="a conversation idle this long ends; the customer's next message starts "
        "a new one (none: conversations never expire; an app file's session_ttl_s wins)",
    )
    admin_key: SecretStr | None = Field(None, description="key for the admin API")
    demo_api_key: SecretStr | None = Field(None, description="API key of the demo app")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body accepted")
    max_upload_bytes: int = Field(
        20_000_000, ge=1024, description="largest knowledge file upload (multipart) accepted"
    )
    max_image_bytes: int = Field(
        10_000_000, ge=1024, description="largest image a customer may upload (/v1/files/upload)"
    )
    stream_ping_seconds: float = Field(10.0, gt=0, description="SSE keep-alive interval")
    body_timeout_s: float = Field(
        15.0, gt=0, description="longest wait for the next piece of a request body (then 408)"
    )
    max_connections: int = Field(
        1000, ge=1, description="open connections `kefu serve` accepts (beyond: 503)"
    )
    keep_alive_s: float = Field(5.0, gt=0, description="how long an idle connection stays open")
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="longest wait for a request's headers, from the first byte or the end of "
        "the previous response (then 408 and the connection is closed)",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="server secret that signs page sessions and HMACs stored keys; default: "
        "generated once into <data_dir>/secret.key (replicas must share one)",
    )
    page_session_ttl_s: int = Field(
        1800, ge=60, description="how long a chat-page session token is valid before renewal"
    )
    page_session_max_age_s: int = Field(
        30 * 86400,
        ge=60,
        description="how long a page visitor keeps their identity by renewing (then a new one)",
    )
    key_rate_per_s: float = Field(
        50.0, ge=0, description="requests/s per API key unless its app sets one (0: unlimited)"
    )
    key_burst: int = Field(200, ge=1, description="requests a key may send at once (default)")
    ip_rate_per_s: float = Field(
        10.0, ge=0, description="public (page) requests per second per client IP (0: unlimited)"
    )
    ip_burst: int = Field(60, ge=1, description="public requests a client IP may send at once")
    drain_timeout_s: float = Field(
        30.0,
        ge=0,
        description="on SIGTERM, how long `kefu serve` lets answers in flight finish before it "
        "cuts them off and exits",
    )
    ready_timeout_s: float = Field(
        2.0, gt=0, le=30, description="how long /ready waits for each dependency it checks"
    )
    route_cache: bool = Field(
        True, description="cache routing decisions per exact question (apps set the size)"
    )
    train_in_subprocess: bool = Field(
        True,
        description="train intent and FAQ entry classifiers in a child process, so the "
        "server never loads scikit-learn (~75-150 MB); predicting needs only numpy",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus for every app's passage vectors, shared by all replicas: "
        "http://milvus:19530 (a server) or a milvus-lite file ending in .db (one process); "
        "none: the embedded index in the data dir",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus token (user:password, or an API key)"
    )
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible server for every app's primary model"
    )
    llm_model: str | None = Field(None, description="model name for every app's primary model")
    llm_api_key: SecretStr | None = Field(None, description="API key for that server")
    log_level: str = "info"
    log_format: Literal["auto", "json", "plain"] = Field(
        "auto",
        description="json: one JSON object per line; plain: text; auto: plain on a terminal, "
        "JSON otherwise",
    )
    metrics: bool = Field(True, description="record Prometheus metrics and serve /metrics")
    metrics_auth: Literal["admin", "none"] = Field(
        "admin",
        description="who may read /metrics on the API port: admin (Bearer admin key) or none "
        "(anyone; for a port only the scraper can reach)",
    )
    metrics_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="serve /metrics on this separate port (no key) instead of the API port",
    )
    metrics_host: str = Field("127.0.0.1", description="address of the metrics port")
    otel: bool = Field(
        False,
        description="FastAPI's native OpenTelemetry spans and metrics per request (off: the "
        "per-request provider check alone costs ~20% of a FAQ answer)",
    )

    otel_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP collector for the turn's spans (http://collector:4318); needs "
        "the otel extra",
    )
    otel_service_name: str = Field("kefu", description="service.name of the exported spans")

    @model_validator(mode="after")
    def _no_placeholders(self) -> Settings:
        """The deployment templates' ``CHANGE-ME`` must never become a working key."""
        secrets = ("database_url", "redis_url", "admin_key", "demo_api_key", "llm_api_key")
        for name in (*secrets, "secret_key", "milvus_token"):
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if text and PLACEHOLDER in text:
                raise ValueError(
                    f"KEFU_{name.upper()} still holds the template's {PLACEHOLDER}: set it "
                    f"(仍是模板占位符 {PLACEHOLDER}，请设置真实的值)"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the secret files of ``KEFU_SECRETS_DIR`` when it is set
        (only then: pydantic-settings warns about a configured folder that is missing)."""
        secrets_dir = os.environ.get(SECRETS_DIR_VARIABLE)
        if not secrets_dir:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        secrets = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir)
        return init_settings, env_settings, dotenv_settings, secrets

    def resolved_database_url(self) -> str:
        if self.database_url and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'kefu.db').resolve()}"
