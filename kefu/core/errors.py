"""The one error tree of kefu.

Failures (something went wrong)::

    KefuError                       root of everything kefu raises on purpose
    ├── ConfigError                 a settings or app file is wrong (file, key, reason)
    ├── RequestError                a caller sent something we cannot act on
    │   ├── InvalidParam            a field is missing, malformed or out of range
    │   ├── Unauthorized            missing, unknown or revoked key
    │   ├── Forbidden               the key is valid but may not do this
    │   ├── NotFound                no such conversation/message/app *for this caller*
    │   ├── Conflict                the thing is not in a state that allows this (e.g. a
    │   │                           conversation another agent already claimed)
    │   ├── TooLarge                what was sent is, or unpacks to, more than is allowed
    │   └── TooManyRequests         a rate limit or concurrency cap (``retry_after`` seconds)
    ├── ProviderError               an LLM/embedding provider failed
    │   ├── ProviderTimeout
    │   ├── ProviderRateLimited
    │   └── ProviderBadResponse
    ├── RetrievalError              the knowledge index could not answer
    ├── ToolError                   a business-system call failed (or could not be made:
    │                               a missing argument or environment variable)
    └── StorageError                the database could not read or write

The turn's course (a hand-over, a flow asking for a slot) is no exception: each stage of
``kefu.engine.turn`` records its decision in the turn's context, and the stage list says
what runs next.

The HTTP API maps this tree to status codes and Dify-style ``{status, code, message}``
bodies in exactly one place: ``kefu.api.errors``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "Forbidden",
    "InvalidParam",
    "KefuError",
    "NotFound",
    "ProviderBadResponse",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderTimeout",
    "RequestError",
    "RetrievalError",
    "StorageError",
    "TooLarge",
    "TooManyRequests",
    "ToolError",
    "Unauthorized",
]


class KefuError(Exception):
    """Root of every failure kefu raises on purpose."""

    code = "internal_server_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(KefuError):
    """A configuration file or setting is wrong; names the file, the key and the reason."""

    code = "config_error"

    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None) -> None:
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {reason}" if where else reason)
        self.file = file
        self.key = key
        self.reason = reason


class RequestError(KefuError):
    """The caller sent something we cannot act on. ``code`` follows Dify's error codes."""

    code = "bad_request"


class InvalidParam(RequestError):
    code = "invalid_param"


class Unauthorized(RequestError):
    code = "unauthorized"


class Forbidden(RequestError):
    code = "forbidden"


class NotFound(RequestError):
    code = "not_found"


class Conflict(RequestError):
    code = "conflict"


class TooLarge(RequestError):
    code = "request_entity_too_large"


class TooManyRequests(RequestError):
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderError(KefuError):
    code = "provider_error"


class ProviderTimeout(ProviderError):
    code = "provider_timeout"


class ProviderRateLimited(ProviderError):
    code = "provider_rate_limited"


class ProviderBadResponse(ProviderError):
    code = "provider_bad_response"


class RetrievalError(KefuError):
    code = "retrieval_error"


class ToolError(KefuError):
    code = "tool_error"


class StorageError(KefuError):
    code = "storage_error"
