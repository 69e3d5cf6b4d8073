"""The busiest route, ``POST /v1/chat-messages``, without FastAPI's per-request machinery.

Under the realistic load the event loop's thread is the server's limit, and one chat
message spent ~15 % of its time there in FastAPI between the middleware and the route's
function: the router's matching, the exception and exit-stack layers, dependency solving,
the body's content-type parsing (``email.message``) and validation (py-spy, 6,000 turns).
This raw-ASGI middleware, the innermost of kefu's, answers a well-formed chat message
itself: it reads the body, validates it with the route's own model as FastAPI does
(JSON, then ``model_validate``), finds the caller with the route's own dependency and
runs the route's own function (:func:`kefu.api.routes.chat.send_message`).

Anything else goes to the FastAPI app unchanged, with the messages already read replayed:
another route, a body that is not JSON or does not validate (FastAPI's own 400 then), a
receive that failed (the guard's 408/413, raised again where the route reads it), a client
gone mid-body. So the status codes, the error envelope and the OpenAPI schema stay those of
the FastAPI route; an error raised here goes to the app's exception handlers through
Starlette's ``ExceptionMiddleware``, set up as FastAPI sets up its own, and ``scope["route"]``
names the route (the HTTP metrics' template). With FastAPI's OpenTelemetry on
(``KEFU_OTEL``) it is not installed, so the spans FastAPI makes per dependency and endpoint
stay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kefu.api.deps import chat_caller, runtime_of
from kefu.api.routes import chat
from kefu.api.schemas import ChatMessageIn

__all__ = ["ChatShortcut"]

_BODY = "kefu.chat_body"  # the validated body, handed to the route's function in the scope


def chat_route(routes: Sequence[BaseRoute], app_dependencies: Sequence[Any] = ()) -> APIRoute:
    """The chat-messages route among ``routes`` (the chat router's), refused if anything
    but the caller is solved for it: by the route, its router or the app
    (``app_dependencies``; kefu includes the chat router with no dependencies of its own)."""
    for route in routes:
        if isinstance(route, APIRoute) and route.endpoint is chat.chat_messages:
            # The shortcut solves one dependency, the caller: a route that gained another
            # must not be shortcut past it (tests/api/test_chat_shortcut.py says so too).
            solved = [dependency.call for dependency in route.dependant.dependencies]
            solved += [dependency.dependency for dependency in app_dependencies]
            if solved != [chat_caller]:
                raise LookupError(f"the chat route's dependencies changed: {solved}")
            return route
    raise LookupError("the chat-messages route is missing")  # pragma: no cover


class ChatShortcut:
    """Answer ``POST /v1/chat-messages`` with a valid JSON body straight from the route's
    function; pass everything else to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        exception_handlers: Mapping[Any, Any],
        app_dependencies: Sequence[Any] = (),
    ) -> None:
        self.app = app
        self.route = chat_route(chat.router.routes, app_dependencies)
        self.path = self.route.path
        # The app's handlers (the error envelope) around the route's function, as FastAPI
        # places them around its router: those for ``Exception`` and 500 run in the
        # outermost middleware, for this route as for any other.
        self.answer = ExceptionMiddleware(
            self._answer,
            handlers={k: v for k, v in exception_handlers.items() if k not in (500, Exception)},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":  # the client left mid-body
                    await self._fall_back(scope, receive, send, messages)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except Exception as exc:  # the guard's timeout or size limit: FastAPI's answer
            await self._fall_back(scope, receive, send, messages, exc)
            return
        body = _valid_body(b"".join(chunks))
        if body is None:
            await self._fall_back(scope, receive, send, messages)
            return
        scope["route"], scope[_BODY] = self.route, body
        await self.answer(scope, receive, send)

    @staticmethod
    async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
        """The route's function for the body read and validated, with its caller."""
        request = Request(scope, receive, send)
        caller = await chat_caller(request)
        response = await chat.send_message(runtime_of(request), caller, scope[_BODY])
        await response(scope, receive, send)

    async def _fall_back(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        messages: list[Message],
        error: Exception | None = None,
    ) -> None:
        """The FastAPI app, reading first what was read here (then ``error``, if reading
        failed), then the client."""

        async def replay() -> Message:
            nonlocal error
            if messages:
                return messages.pop(0)
            if error is not None:
                raised, error = error, None
                raise raised
            return await receive()

        await self.app(scope, replay, send)


def _valid_body(raw: bytes) -> ChatMessageIn | None:
    """The body as the route's model, when it is JSON that validates; else None (FastAPI
    then answers, with its own error). Its content type needs no look: the request guard
    outside (``kefu.api.middleware.RequestGuard``) has answered 415 to anything but
    ``application/json``."""
    if not raw:
        return None
    try:
        # Starlette's parser (json.loads), as the route reads it: orjson would read a huge
        # integer in ``inputs`` as a float. Any failure (not JSON, not UTF-8, too deep,
        # invalid) is FastAPI's to answer.
        return ChatMessageIn.model_validate(json.loads(raw))
    except Exception:
        return None
