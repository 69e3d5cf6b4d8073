"""The one place where failures become HTTP, in the envelope the caller's API speaks.

The service API speaks Dify's ``{status, code, message}``. The OpenAI-compatible routes
(``/v1/chat/completions``, ``/v1/models``) speak OpenAI's
``{"error": {message, type, param, code}}``, with the ``type`` and ``code`` OpenAI's SDKs and
UIs know: 401 ``authentication_error``/``invalid_api_key``, 404 ``invalid_request_error``
(``model_not_found`` for an unknown model), 400 ``invalid_request_error`` with the field in
``param``, 429 ``rate_limit_error``/``rate_limit_exceeded``, 5xx ``server_error``. Both keep
the same HTTP status and ``Retry-After``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.api.observe import REQUEST_ID_SCOPE_KEY
from kefu.core.errors import (
    ConfigError,
    Conflict,
    Forbidden,
    InvalidParam,
    KefuError,
    NotFound,
    ProviderError,
    RequestError,
    TooLarge,
    TooManyRequests,
    Unauthorized,
)
from kefu.safety import clean_text

__all__ = [
    "OPENAI_PATHS",
    "ApiError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "openai_error_body",
    "speaks_openai",
    "status_for",
]

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[KefuError], int]] = [
    (InvalidParam, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyRequests, 429),
    (TooLarge, 413),
    (RequestError, 400),
    (ConfigError, 400),
    (ProviderError, 503),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "request_entity_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}

OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")
_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


class ApiError(RequestError):
    """A request failure with an explicit HTTP status (for transport-level problems)."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.param = param  # the request field at fault (OpenAI's ``param``)


def status_for(error: KefuError) -> int:
    if isinstance(error, ApiError):
        return error.status
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    # Messages may quote what the client sent; lone surrogates would break the encoder.
    return {"status": status, "code": code, "message": clean_text(message)}


def openai_error_body(
    status: int, code: str, message: str, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object, for responses and for an error inside a stream."""
    kind = "server_error" if status >= 500 else _OPENAI_TYPES.get(status, "invalid_request_error")
    return {
        "error": {
            "message": clean_text(message),
            "type": kind,
            "param": param,
            "code": _OPENAI_CODES.get(status, code),
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    openai: bool = False,
    param: str | None = None,
    retry_after: int | None = None,
) -> Response:
    """The error as a response; ``retry_after`` (seconds) goes into the envelope
    (``retry_after``; OpenAI's under ``error``) and the ``Retry-After`` header."""
    body = (
        openai_error_body(status, code, message, param)
        if openai
        else error_body(status, code, message)
    )
    if retry_after is not None:
        (body["error"] if openai else body)["retry_after"] = retry_after
    response = Response(orjson.dumps(body), status_code=status, media_type="application/json")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def speaks_openai(path: str) -> bool:
    """Whether errors on ``path`` take OpenAI's shape (its SDK reads ``error.message``)."""
    return path in OPENAI_PATHS or path.startswith("/v1/models/")


def _validation_message(exc: RequestValidationError) -> tuple[str, str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return "bad_request", "The request body is not valid JSON.", None
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    field = ".".join(location)
    message = str(first.get("msg", "invalid request"))
    return "invalid_param", f"{field}: {message}" if field else message, field or None


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as the envelope: ours, validation, routing and the unexpected."""

    @app.exception_handler(KefuError)
    async def _kefu_error(request: Request, exc: KefuError) -> Response:
        status = status_for(exc)
        if status >= 500:
            log.error("request failed: %s", exc.message)
        param = exc.param if isinstance(exc, ApiError) else None
        retry_after = (
            max(1, math.ceil(exc.retry_after)) if isinstance(exc, TooManyRequests) else None
        )
        return error_response(
            status,
            exc.code,
            exc.message,
            openai=speaks_openai(request.url.path),
            param=param,
            retry_after=retry_after,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        code, message, field = _validation_message(exc)
        return error_response(
            400, code, message, openai=speaks_openai(request.url.path), param=field
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(
            exc.status_code, "bad_request" if exc.status_code < 500 else "internal_server_error"
        )
        response = error_response(
            exc.status_code, code, str(exc.detail), openai=speaks_openai(request.url.path)
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        response = error_response(
            500,
            "internal_server_error",
            "Internal Server Error",
            openai=speaks_openai(request.url.path),
        )
        # This handler runs outside the middleware that adds the request id to responses.
        request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)
        if request_id:
            response.headers["X-Request-Id"] = request_id
        return response
