"""uvicorn's HTTP protocols with what they lack against slow and hostile clients.

uvicorn times out an idle kept-alive connection, but not one that sends its headers a byte
at a time (or never finishes them): each byte cancels the keep-alive timer, and nothing
else bounds the wait. Its connection cap (``limit_concurrency``) answers 503 only once a
request has arrived, so idle sockets above it are held. And it answers malformed HTTP in
plain text. A subclass of each of uvicorn's HTTP/1.1 protocols, given to
``uvicorn.Config(http=...)``, adds:

- a **header timeout**: a request's headers must be complete within ``header_timeout_s`` of
  the connection opening or of the previous response ending, however the bytes trickle in
  (then 408 and the connection is closed);
- a **connection cap at accept**: a connection beyond ``max_connections`` gets 503 and is
  closed at once, before it can hold a descriptor;
- **malformed HTTP in the envelope**: the parser's protocol errors get the JSON
  ``{status, code, message}`` every other error has.

uvicorn's own ``limit_concurrency`` is not used: it counts the open connections too (the
new one included), so at the cap the last connection accepted could never be served, and
it answers 503 in plain text. The cap at accept is the bound: each connection answers one
request at a time (uvicorn queues pipelined ones), so requests in flight never exceed it.

``kefu serve`` uses the httptools one (the C parser, llhttp: about a tenth of h11's CPU per
request) when httptools is installed, as uvicorn itself does, and the h11 one (pure Python)
otherwise or with ``--http h11``.

Subclasses rather than a fork or a proxy: a few small overrides of the protocols' methods
and parser callbacks; uvicorn has no option for any of them (``timeout_keep_alive`` only
covers idle connections).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from kefu.api.http_parser import HttpParser

__all__ = ["guarded_http_protocol"]

_MALFORMED = "Malformed HTTP request: {}"


def _raw_error(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole ``Connection: close`` error response, written straight to the socket (no
    request to frame it for: none has been read, or its bytes make no sense)."""
    body = orjson.dumps({"status": status, "code": code, "message": message})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


_TIMEOUT = _raw_error(
    408, "Request Timeout", "request_timeout", "The request headers did not arrive in time."
)
_BUSY = _raw_error(
    503,
    "Service Unavailable",
    "service_unavailable",
    "The server has too many open connections; retry shortly.",
)


class _Guards(asyncio.Protocol):
    """The part both protocols share: the connection cap and the header timer, from the
    connection's start to its end (placed before uvicorn's protocol class, it wraps that
    class's ``connection_made`` and ``connection_lost``). The protocol says whether a request
    is under way (:meth:`_request_begun`) and whether one is being answered
    (:meth:`_request_in_flight`)."""

    header_timeout_s: float = 10.0
    max_connections: int | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    connections: set[Any]
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """After uvicorn's protocol took the connection: refuse it when it is one too many,
        else start waiting for its first request's headers."""
        super().connection_made(transport)
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            self.transport.write(_BUSY)
            self.transport.close()
            return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._request_in_flight():
            return
        # A connection that sent nothing is merely idle (a browser opens spares): close it
        # quietly, as keep-alive would; one that started a request gets 408.
        if self._request_begun():
            self.transport.write(_TIMEOUT)
        self.transport.close()

    def _request_begun(self) -> bool:
        raise NotImplementedError

    def _request_in_flight(self) -> bool:
        raise NotImplementedError


class _GuardedH11Protocol(_Guards, H11Protocol):
    def handle_events(self) -> None:
        super().handle_events()
        # h11 leaves IDLE once a request's headers are complete.
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()

    def _request_begun(self) -> bool:
        return bool(self.conn.trailing_data[0])

    def _request_in_flight(self) -> bool:
        return self.conn.their_state is not h11.IDLE

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP: the JSON envelope instead of uvicorn's plain text."""
        body = orjson.dumps(
            {"status": 400, "code": "bad_request", "message": _MALFORMED.format(msg)}
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        cycle = self.cycle
        if cycle is None or not cycle.response_started or cycle.response_complete:
            try:
                self.transport.write(
                    self.conn.send(
                        h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
                    )
                    or b""
                )
                self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
                self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
            except h11.LocalProtocolError:
                pass  # h11 will not frame a response in this state: just close
        if cycle is not None and not cycle.response_complete:
            # A request whose body turned out malformed (a bad chunk) is still in the app:
            # its own response must not follow this one (uvicorn would log a traceback).
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def guarded_http_protocol(
    parser: HttpParser = HttpParser.AUTO,
    *,
    header_timeout_s: float,
    max_connections: int | None,
) -> type[asyncio.Protocol]:
    """The guarded protocol class for ``parser`` (``auto``: httptools when installed), for
    ``uvicorn.Config(http=...)`` with these limits."""
    base: type[asyncio.Protocol]
    if parser.resolved() is HttpParser.HTTPTOOLS:
        # Imported here: httptools is optional (uvicorn[standard]); without it kefu runs on h11.
        from kefu.api._httptools_protocol import GuardedHttpToolsProtocol

        base = GuardedHttpToolsProtocol
    else:
        base = _GuardedH11Protocol
    return type(
        base.__name__.lstrip("_"),
        (base,),
        {"header_timeout_s": header_timeout_s, "max_connections": max_connections},
    )
