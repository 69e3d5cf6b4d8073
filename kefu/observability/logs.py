"""Log set-up: one JSON object per line (python-json-logger) or plain text, both carrying
the request and turn of :mod:`kefu.observability.context`.

``KEFU_LOG_FORMAT``: ``json``, ``plain``, or ``auto`` (the default: plain on a terminal,
JSON otherwise — a container's or a service manager's log collector). Uvicorn's own loggers
go through the same handler.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

from kefu.observability import context

__all__ = ["ContextFilter", "LogFormat", "configure_logging", "resolve_format"]

LogFormat = Literal["auto", "json", "plain"]
_QUIET = {"bm25s": logging.WARNING, "jieba": logging.WARNING, "httpx": logging.WARNING}


class ContextFilter(logging.Filter):
    """Adds the request and turn fields (request_id, trace_id, conversation_id, app,
    route) to every record, as attributes; fields not known are absent."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = context.current()
        if current is not None:
            for name in context.FIELDS:
                value = getattr(current, name)
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return True


class PlainFormatter(logging.Formatter):
    """``LEVEL logger: message`` followed by the known fields as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{name}={getattr(record, name)}" for name in context.FIELDS if hasattr(record, name)
        ]
        return f"{line} [{' '.join(fields)}]" if fields else line


def resolve_format(chosen: LogFormat, stream: TextIO) -> Literal["json", "plain"]:
    if chosen != "auto":
        return chosen
    isatty = getattr(stream, "isatty", None)
    return "plain" if isatty is not None and isatty() else "json"


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,  # Chinese stays readable
    )


def configure_logging(
    level: str = "info", log_format: LogFormat = "auto", stream: TextIO | None = None
) -> Literal["json", "plain"]:
    """Replace the root logger's handlers with one that writes ``log_format``; returns the
    format chosen. Uvicorn's loggers propagate to it (serve uvicorn with ``log_config=None``)."""
    stream = stream or sys.stderr
    chosen = resolve_format(log_format, stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter() if chosen == "json" else PlainFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return chosen


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The request and turn fields a record carries (for tests and formatters)."""
    return {name: getattr(record, name) for name in context.FIELDS if hasattr(record, name)}
