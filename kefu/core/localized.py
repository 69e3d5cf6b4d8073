"""User-facing text in Chinese and English (the YAML may give one plain string for both)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from kefu.core.types import Language

__all__ = ["LocalizedText", "localize"]


class LocalizedText(BaseModel):
    """A user-facing string in Chinese and English. YAML may give a plain string for both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str
    en: str

    def get(self, language: Language) -> str:
        return self.zh if language == "zh" else self.en


def localize(value: Any) -> Any:
    """A plain string stands for both languages (a ``mode="before"`` validator's helper)."""
    if isinstance(value, str):
        return {"zh": value, "en": value}
    return value
