"""HTTP tools: a URL template declared in the app file, called with the registry's shared client.

``timeout_s`` bounds the whole call, retries included, so a customer never waits longer than
configured. Failed attempts are retried (``retries`` times, with a short backoff) when another
attempt may pass and is safe: a refused connection (nothing reached the server) for any method;
a timeout, a transport error, HTTP 5xx or 429 only for GET/HEAD or with ``retry_unsafe``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kefu.appfile.tool_config import Template, ToolConfig
from kefu.core.errors import ToolError
from kefu.core.localized import LocalizedText
from kefu.tools.base import Outcome, ToolContext, ToolResult
from kefu.tools.mapping import ResponseMapping
from kefu.tools.templates import MissingArgument, MissingEnv, redact, render, render_json

__all__ = ["MAX_RAW_BYTES", "MAX_RESPONSE_BYTES", "HttpTool"]

MAX_RESPONSE_BYTES = 1_000_000
MAX_RAW_BYTES = 64_000
_MAX_ERROR_CHARS = 200
_BACKOFF_S = 0.1
_MESSAGE_KEYS = ("message", "error", "detail", "msg", "error_description")


@dataclass(frozen=True, slots=True)
class _Attempt:
    outcome: Outcome
    retryable: bool
    status_code: int | None = None
    body: bytes = b""
    error: str | None = None


class _TooLarge(ToolError):
    """The response passed ``MAX_RESPONSE_BYTES`` while it was read."""


class HttpTool:
    """A ``kind: http`` tool. Environment values are read at each call and never kept."""

    def __init__(
        self,
        config: ToolConfig,
        client: httpx.AsyncClient | Callable[[], httpx.AsyncClient],
        env: Mapping[str, str],
    ) -> None:
        """``client``: a client, or a function giving the running event loop's client."""
        assert config.url is not None and config.description is not None  # checked at load
        self.name = config.name
        self.description: LocalizedText = config.description
        self.parameters: Mapping[str, Any] = config.arguments_schema
        self.confirm = config.confirm
        self._config = config
        self._client = client if callable(client) else (lambda: client)
        self._env = env
        self._url = Template.parse(config.url)
        self._headers = {key: Template.parse(text) for key, text in config.headers.items()}
        self._query = {key: Template.parse(text) for key, text in config.query.items()}
        self._mapping = ResponseMapping.parse(config.response)

    def __repr__(self) -> str:
        return f"HttpTool(name={self.name!r}, method={self._config.method!r})"

    async def call(self, arguments: Mapping[str, Any], *, context: ToolContext) -> ToolResult:
        started = time.perf_counter()
        secrets: list[str] = []
        try:
            request = self._request(arguments, secrets)
        except MissingEnv as exc:
            return _result("error", started, error=str(exc))
        except MissingArgument as exc:
            return _result("invalid_arguments", started, error=str(exc))
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            error = f"could not build the request: {redact(str(exc), secrets)}"
            return _result("error", started, error=_short(error))

        deadline = started + self._config.timeout_s
        attempts = 0
        while True:
            attempts += 1
            attempt = await self._attempt(request, deadline)
            backoff = _BACKOFF_S * 2 ** (attempts - 1)
            if (
                not attempt.retryable
                or attempts > self._config.retries
                or time.perf_counter() + backoff >= deadline
            ):
                break
            await asyncio.sleep(backoff)
        return self._finish(attempt, arguments, started, attempts, secrets)

    def _request(self, arguments: Mapping[str, Any], secrets: list[str]) -> dict[str, Any]:
        url = render(
            self._url, arguments, self._env, secrets, quote=lambda s: quote(s, safe=""), strict=True
        )
        if not url.startswith(("http://", "https://")):
            raise ValueError("the URL must start with http:// or https://")
        request: dict[str, Any] = {
            "method": self._config.method,
            "url": url,
            "headers": _filled(self._headers, arguments, self._env, secrets),
            "params": _filled(self._query, arguments, self._env, secrets),
        }
        if self._config.body is not None:
            request["json"] = render_json(self._config.body, arguments, self._env, secrets)
        httpx.URL(url)  # raises InvalidURL now rather than as a transport error
        return request

    async def _attempt(self, request: dict[str, Any], deadline: float) -> _Attempt:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return _Attempt("timeout", False, error=self._timeout_message())
        may_retry = self._config.idempotent
        try:
            async with asyncio.timeout(remaining):
                async with self._client().stream(**request, timeout=remaining) as response:
                    body = await _read_capped(response)
        except (TimeoutError, httpx.TimeoutException) as exc:
            connect = isinstance(exc, httpx.ConnectTimeout)  # nothing was sent: always safe
            return _Attempt("timeout", connect or may_retry, error=self._timeout_message())
        except httpx.ConnectError:
            return _Attempt("unavailable", True, error="could not connect to the service")
        except httpx.TransportError as exc:
            error = f"transport error ({type(exc).__name__})"
            return _Attempt("unavailable", may_retry, error=error)
        except _TooLarge:
            error = f"response larger than {MAX_RESPONSE_BYTES} bytes"
            return _Attempt("error", False, error=error)
        return _classify(response.status_code, body, may_retry)

    def _finish(
        self,
        attempt: _Attempt,
        arguments: Mapping[str, Any],
        started: float,
        attempts: int,
        secrets: list[str],
    ) -> ToolResult:
        size = len(attempt.body)
        if attempt.outcome != "ok":
            error = attempt.error or attempt.outcome
            if attempts > 1:
                error += f" (after {attempts} attempts)"
            return _result(
                attempt.outcome,
                started,
                status_code=attempt.status_code,
                size_bytes=size,
                error=_short(redact(error, secrets)),
            )
        try:
            document = json.loads(attempt.body) if attempt.body.strip() else None
        except ValueError:
            if self._mapping:
                return _result(
                    "error",
                    started,
                    status_code=attempt.status_code,
                    size_bytes=size,
                    error="the response is not JSON",
                )
            text = attempt.body.decode("utf-8", "replace")
            raw = redact(text, secrets) if size <= MAX_RAW_BYTES else None
            return _result("ok", started, status_code=attempt.status_code, size_bytes=size, raw=raw)
        document = redact(document, secrets)
        if self._mapping:
            data = self._mapping.apply(document, arguments)
        else:
            data = document if isinstance(document, dict) else {"result": document}
            if document is None:
                data = {}
        return _result(
            "ok",
            started,
            data=data,
            status_code=attempt.status_code,
            size_bytes=size,
            raw=document if size <= MAX_RAW_BYTES else None,
        )

    def _timeout_message(self) -> str:
        return f"no answer within {self._config.timeout_s:g} s"


def _classify(status: int, body: bytes, may_retry: bool) -> _Attempt:
    """404 → not_found; 5xx and 429 → unavailable; other 4xx (and 3xx) → error."""
    if status < 300:
        return _Attempt("ok", False, status, body)
    message = _body_message(body)
    if status == 404:
        return _Attempt("not_found", False, status, body, _join("not found (HTTP 404)", message))
    if status >= 500 or status == 429:
        return _Attempt("unavailable", may_retry, status, body, _join(f"HTTP {status}", message))
    return _Attempt("error", False, status, body, _join(f"HTTP {status}", message))


def _result(outcome: Outcome, started: float, **fields: Any) -> ToolResult:
    latency_ms = (time.perf_counter() - started) * 1000
    return ToolResult(outcome, latency_ms=latency_ms, **fields)


def _filled(
    templates: Mapping[str, Template],
    arguments: Mapping[str, Any],
    env: Mapping[str, str],
    secrets: list[str],
) -> dict[str, str]:
    """Rendered headers or query parameters; one that is just a missing argument is left out."""
    filled: dict[str, str] = {}
    for key, template in templates.items():
        single = template.single
        if single is not None and not single.env and arguments.get(single.name) is None:
            continue
        filled[key] = render(template, arguments, env, secrets)
    return filled


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise _TooLarge(f"the response is larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _body_message(body: bytes) -> str | None:
    """The error message of a JSON error body (``message``, ``error``, ``detail`` …)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict):
        for key in _MESSAGE_KEYS:
            value = document.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):
                return _body_message(json.dumps(value).encode())
    return None


def _join(summary: str, message: str | None) -> str:
    return f"{summary}: {message}" if message else summary


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"
