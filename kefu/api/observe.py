"""Pure-ASGI middleware that gives every request its id and counts it.

* ``X-Request-Id``: the client's (or a proxy's), when it is 1-128 safe characters
  (:func:`kefu.observability.context.clean_request_id`); otherwise a new one. It is
  returned on every response, error or not, and carried by every log line of the request.
* ``X-Trace-Id``: the turn's trace id, on responses that ran a turn (the admin API's
  message trace and the tracing backend use the same id).
* ``kefu_http_requests_total`` and ``kefu_http_request_duration_seconds`` by method, route
  template (``/v1/conversations/{conversation_id}``, never the raw path) and status.

Raw ASGI like :class:`kefu.api.middleware.RequestGuard`: no task per request, and the time
runs until the last byte of a streamed answer.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.observability import context, metrics

__all__ = ["REQUEST_ID_SCOPE_KEY", "RequestObserver"]

REQUEST_ID_SCOPE_KEY = "kefu.request_id"  # for the 500 handler, which runs outside
_UNMATCHED = "<unmatched>"  # a path no route has: one label value, whatever was asked


class RequestObserver:
    """Request ids in and out, the trace id out, HTTP metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = context.clean_request_id(value)
                break
        request_id = request_id or context.new_request_id()
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        logged = context.start(request_id)
        status = 500  # if the app raises before answering

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if logged.trace_id is not None:
                    headers.append((b"x-trace-id", logged.trace_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            if metrics.enabled():
                route = scope.get("route")
                template = getattr(route, "path", None) or _UNMATCHED
                metrics.http_request(
                    scope["method"], template, status, time.perf_counter() - started
                )
