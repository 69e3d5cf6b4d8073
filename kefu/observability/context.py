"""What a log line knows about the request and the turn it belongs to.

One :class:`LogContext` per request (the HTTP middleware starts it with the request id) or
per turn outside HTTP (the chat service starts it). The chat service fills in the turn's
trace id, conversation, app and route; every log line written meanwhile carries them
(:mod:`kefu.observability.logs`), and the middleware returns the trace id as a header.

A context variable holds it, so tasks the turn starts (storing, the hand-over side) see the
same object.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = [
    "FIELDS",
    "LogContext",
    "clean_request_id",
    "current",
    "new_request_id",
    "start",
    "trace_shaped",
    "turn_context",
]

FIELDS = ("request_id", "trace_id", "conversation_id", "app", "route")
MAX_REQUEST_ID = 128
# What a proxy or client may send as X-Request-Id: visible ASCII without quotes, spaces or
# separators that would break a log line or a header.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=\-]{1,%d}" % MAX_REQUEST_ID)
_TRACE_SHAPED = re.compile(r"[0-9a-f]{32}")


@dataclass(slots=True)
class LogContext:
    """The request and turn a log line belongs to (None: not known, or not in a turn)."""

    request_id: str | None = None
    trace_id: str | None = None
    conversation_id: str | None = None
    app: str | None = None
    route: str | None = None


_current: ContextVar[LogContext | None] = ContextVar("kefu_log_context", default=None)


def current() -> LogContext | None:
    return _current.get()


def start(request_id: str | None = None) -> LogContext:
    """A fresh context for a request (or a turn outside HTTP), made current."""
    context = LogContext(request_id=request_id)
    _current.set(context)
    return context


def turn_context() -> LogContext:
    """The context a turn fills in: the request's, or a fresh one outside HTTP."""
    return _current.get() or start()


def new_request_id() -> str:
    """32 hex digits, the shape of a trace id, so a generated request id can be both."""
    return f"{random.getrandbits(128):032x}"


def clean_request_id(raw: bytes | None) -> str | None:
    """A client's ``X-Request-Id`` if it is safe to log and echo (1-128 characters of
    ``A-Z a-z 0-9 . _ : @ / + = -``), else None (the caller makes a new one)."""
    if raw is None or _REQUEST_ID.fullmatch(raw) is None:
        return None
    return raw.decode("ascii")


def trace_shaped(request_id: str | None) -> str | None:
    """The request id as a trace id, when it has that shape (32 hex digits, not all zero)."""
    if request_id is None:
        return None
    lowered = request_id.lower()
    if _TRACE_SHAPED.fullmatch(lowered) and lowered.strip("0"):
        return lowered
    return None
