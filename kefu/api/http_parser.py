"""Which HTTP/1.1 parser ``kefu serve`` runs on (``--http``); the protocols themselves are
in :mod:`kefu.api.http_protocol`. Apart so that the command line can name the choices
without importing uvicorn."""

from __future__ import annotations

import enum
import importlib.util

__all__ = ["HttpParser"]


class HttpParser(enum.StrEnum):
    AUTO = "auto"  # httptools when installed (as uvicorn chooses), else h11
    HTTPTOOLS = "httptools"  # llhttp, in C
    H11 = "h11"  # pure Python

    def resolved(self) -> HttpParser:
        """``auto`` made concrete."""
        if self is not HttpParser.AUTO:
            return self
        if importlib.util.find_spec("httptools") is None:
            return HttpParser.H11
        return HttpParser.HTTPTOOLS
