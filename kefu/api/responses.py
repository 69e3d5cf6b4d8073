"""JSON responses encoded with orjson (fast, UTF-8 without escapes), and the web pages with
the headers that keep them from being framed or fed foreign scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["PAGE_HEADERS", "StaticPages", "json_response", "page_response"]

# The pages load only their own scripts, styles and API: an injected <script> or a foreign
# one cannot run, and no other site can frame them (clickjacking on the console).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")


def page_response(path: Path) -> FileResponse:
    """A static HTML page with :data:`PAGE_HEADERS`."""
    return FileResponse(path, headers=PAGE_HEADERS)


class StaticPages(StaticFiles):
    """Static files with :data:`PAGE_HEADERS`: an HTML file under ``/static`` is the same
    page as its route, and must not be frameable either."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response
