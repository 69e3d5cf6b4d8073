"""Request bodies of the shop's actions and of fault injection."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AddressRequest",
    "CalculateRequest",
    "CancelRequest",
    "ExchangeRequest",
    "FaultSpec",
    "PaymentRequest",
    "ReturnRequest",
    "TransferRequest",
]


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


class ExchangeRequest(BaseModel):
    """Swap items (of a delivered order: exchange; of a pending one: modify) for other
    variants of the same products; ``payment_method_id`` pays or receives the difference."""

    model_config = ConfigDict(extra="forbid")

    item_ids: list[str] = Field(min_length=1)
    new_item_ids: list[str] = Field(min_length=1)
    payment_method_id: str = Field(min_length=1)


class AddressRequest(BaseModel):
    """A shipping or default address, as τ²-bench writes it."""

    model_config = ConfigDict(extra="forbid")

    address1: str = Field(min_length=1)
    address2: str = ""
    city: str = Field(min_length=1)
    state: str = Field(min_length=1)
    country: str = Field(min_length=1)
    zip: str = Field(min_length=1)


class PaymentRequest(BaseModel):
    """Pay a pending order with another of the user's payment methods."""

    model_config = ConfigDict(extra="forbid")

    payment_method_id: str = Field(min_length=1)


class CalculateRequest(BaseModel):
    """Arithmetic for the agent: digits, + - * / and parentheses."""

    model_config = ConfigDict(extra="forbid")

    expression: str = Field(min_length=1, max_length=500)


class TransferRequest(BaseModel):
    """Hand the customer to a human agent, with a summary of the issue."""

    model_config = ConfigDict(extra="forbid")

    summary: str = ""


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
