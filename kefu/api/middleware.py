"""Pure-ASGI guards that run before routing: body size, JSON content type, and a client
that stops sending its body."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.api.errors import error_response, speaks_openai

__all__ = ["RequestGuard"]

_JSON_METHODS = {b"POST", b"PUT", b"PATCH"}
# File uploads (the knowledge API's create-by-file / update-by-file, chat images) are multipart.
_UPLOAD_SUFFIXES = (
    "/create-by-file",
    "/create_by_file",
    "/update-by-file",
    "/update_by_file",
    "/files/upload",  # images customers send (kefu.api.routes.files)
)


class RequestGuard:
    """Refuse bodies over ``max_body_bytes`` (413) and non-JSON bodies on JSON routes (415;
    file uploads must be ``multipart/form-data``).

    Written as raw ASGI rather than ``BaseHTTPMiddleware`` so it adds no task per request
    and can count the bytes of a chunked body as they arrive.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        json_prefixes: tuple[str, ...],
        max_upload_bytes: int | None = None,
        body_timeout_s: float = 15.0,
    ):
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes or max_body_bytes
        self.json_prefixes = json_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        # Knowledge files (PDF, DOCX) are bigger than any JSON request.
        upload = scope["path"].endswith(_UPLOAD_SUFFIXES)
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(
                scope,
                receive,
                send,
                413,
                "request_entity_too_large",
                f"The request body is larger than {limit} bytes.",
            )
            return
        method = scope["method"].encode() if isinstance(scope["method"], str) else scope["method"]
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        if has_body and method in _JSON_METHODS and scope["path"].startswith(self.json_prefixes):
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            expected = b"application/json"
            if upload:
                expected = b"multipart/form-data"
            if content_type != expected:
                await self._refuse(
                    scope,
                    receive,
                    send,
                    415,
                    "unsupported_media_type",
                    f"Content-Type must be {expected.decode()}.",
                )
                return
        received = 0

        body_done = not has_body

        async def counting_receive() -> Message:
            nonlocal received, body_done
            if body_done:
                # After the body, receive() waits for a disconnect (a long SSE stream): no
                # timeout there.
                return await receive()
            try:
                # A body shorter than its Content-Length, or sent a byte a minute, would
                # hold a worker forever: each piece must come within the timeout.
                # (``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` wraps
                # the receive in a task of its own, for every request.)
                async with asyncio.timeout(self.body_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408, f"The request body did not arrive within {self.body_timeout_s:g} s."
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes FastAPI's body parsing unchanged → envelope 413.
                    raise HTTPException(413, f"The request body is larger than {limit} bytes.")
            return message

        await self.app(scope, counting_receive, send)

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str
    ) -> None:
        openai = speaks_openai(scope["path"])
        await error_response(status, code, message, openai=openai)(scope, receive, send)
