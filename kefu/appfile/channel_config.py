"""The ``channels:`` section of an app file: where customers reach the app besides its API.

Each entry names its ``type`` (a package under ``kefu/channels/``: ``wecom_kf``,
``webhook``, ``feishu``) and a ``name`` (the URL segment of its callback,
``/channels/<app>/<name>``); the other keys are the channel's own settings, validated by
that channel when the server starts (``kefu.channels.registry``), so adding a channel never
touches this file. Secrets are never written here: settings ending in ``_env`` name the
environment variable that holds them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ENV_NAME_PATTERN", "ChannelConfig", "EnvName", "unique_channel_names"]

ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
# An environment variable's name (a secret's home), e.g. KEFU_WECOM_SECRET.
EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN, max_length=128)]
_SECRET_WORDS = re.compile(r"(secret|token|key|password)$")


class ChannelConfig(BaseModel):
    """One channel of an app; keys besides ``type``, ``name`` and ``enabled`` are the
    channel's settings (``settings()``)."""

    # Extra keys allowed: they belong to the channel's own settings model, which forbids
    # unknown ones when the channel is built.
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="the channel package")
    name: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="URL segment of its callback (default: the type)",
    )
    enabled: bool = True

    @field_validator("type")
    @classmethod
    def _not_private(cls, value: str) -> str:
        if value.startswith("_") or value in {"base", "registry", "hub", "delivery"}:
            raise ValueError(f"{value!r} is not a channel type")
        return value

    @property
    def channel_name(self) -> str:
        return self.name or self.type

    def settings(self) -> dict[str, Any]:
        """The channel's own keys, as written."""
        extra = dict(self.model_extra or {})
        for key, value in extra.items():
            # A secret written into the file would be committed with it: name its variable.
            if _SECRET_WORDS.search(key) and not key.endswith("_env") and value:
                raise ValueError(
                    f"{key}: secrets are not written in the app file; "
                    f"set `{key}_env` to the name of the environment variable holding it"
                )
        return extra


def unique_channel_names(channels: list[ChannelConfig]) -> list[ChannelConfig]:
    seen: set[str] = set()
    for channel in channels:
        if channel.channel_name in seen:
            raise ValueError(f"channels: two channels are named {channel.channel_name!r}")
        seen.add(channel.channel_name)
    return channels
