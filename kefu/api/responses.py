"""JSON responses encoded with orjson (fast, UTF-8 without escapes)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

__all__ = ["json_response"]


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")
