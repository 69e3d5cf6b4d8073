"""The base of every app-file model: unknown keys are errors (a typo never passes silently)
and a loaded config is immutable (it is shared by every turn of the app)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Strict"]


class Strict(BaseModel):
    """Forbids unknown keys; frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
