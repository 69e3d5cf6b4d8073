"""The shop's two failure types: a request it cannot serve, and a setup it cannot start from."""

from __future__ import annotations

__all__ = ["ShopConfigError", "ShopError"]


class ShopError(Exception):
    """A request the shop cannot serve; leaves as ``{"status", "code", "message"}``.

    404 for unknown ids, 400 for bad input, 409 for an action the order's state forbids.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ShopConfigError(Exception):
    """The shop cannot start: its source data or database is missing or malformed.

    ``message`` names the file and the option or variable (``key``) where one applies, then
    the reason; the command prints it as one line and exits with status 2.
    """

    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (file, key) if part)
        message = f"{where}: {reason}" if where else reason
        super().__init__(message)
        self.message = message
        self.file = file
        self.key = key
        self.reason = reason
