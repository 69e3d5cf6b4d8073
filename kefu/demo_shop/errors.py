"""The shop's one failure type: an HTTP status, a stable code and a readable message."""

from __future__ import annotations

__all__ = ["ShopError"]


class ShopError(Exception):
    """A request the shop cannot serve; leaves as ``{"status", "code", "message"}``.

    404 for unknown ids, 400 for bad input, 409 for an action the order's state forbids.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
