"""Request bodies of the shop's actions and of fault injection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CancelRequest", "FaultSpec", "ReturnRequest"]


class CancelRequest(BaseModel):
    """Cancel a pending order; τ²-bench accepts only these two reasons."""

    model_config = ConfigDict(extra="forbid")

    reason: Literal["no longer needed", "ordered by mistake"]
    email: str | None = Field(
        None, description="the authenticated customer's email: the order must be theirs"
    )


class ReturnRequest(BaseModel):
    """Return some items of a delivered order, refunded to ``payment_method_id``."""

    model_config = ConfigDict(extra="forbid")

    item_ids: list[str] = Field(min_length=1)
    payment_method_id: str = Field(min_length=1)


class FaultSpec(BaseModel):
    """Make matching requests wait ``delay_ms`` and/or fail with ``status``.

    ``paths`` are path prefixes (``/orders`` matches ``/orders/%23W1``); none means all.
    """

    model_config = ConfigDict(extra="forbid")

    delay_ms: int = Field(0, ge=0, le=120_000)
    status: int | None = Field(None, ge=400, le=599)
    paths: list[str] | None = None

    def matches(self, path: str) -> bool:
        if self.paths is None:
            return True
        return any(
            path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/")
            for prefix in self.paths
        )
