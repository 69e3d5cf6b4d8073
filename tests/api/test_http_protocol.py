"""The guards of kefu's HTTP protocols (kefu/api/http_protocol.py), on both parsers
``kefu serve`` can run (httptools, its default, and h11): the header timeout against
trickled headers, the connection cap at accept, malformed HTTP in the JSON envelope,
keep-alive and pipelining unharmed. uvicorn is set up exactly as ``kefu serve`` sets it up
(:func:`kefu.api.server.server_config`), around a small ASGI app that reads the body.
The attack suite (tests/security) tries the same against a whole ``kefu serve``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kefu.api.http_parser import HttpParser
from kefu.api.server import server_config
from kefu.core.settings import Settings
from tests.servers import free_port, serving_config_in_thread

HEADER_TIMEOUT_S = 0.5
MAX_CONNECTIONS = 4
PARSERS = [HttpParser.HTTPTOOLS, HttpParser.H11]


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body and answers its length as JSON; ``/slow`` answers after 1 s
    (longer than the header timeout)."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope["path"] == "/slow":
        await asyncio.sleep(1.0)
    body = json.dumps({"path": scope["path"], "size": size}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Served:
    def __init__(self, port: int, errors: list[logging.LogRecord]) -> None:
        self.port = port
        self.errors = errors

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module", params=PARSERS, ids=str)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    parser: HttpParser = request.param
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("http-protocol"),
        header_timeout_s=HEADER_TIMEOUT_S,
        max_connections=MAX_CONNECTIONS,
        log_level="warning",
    )
    port = free_port()
    config = server_config(echo_app, settings, host="127.0.0.1", port=port, parser=parser)
    config.lifespan = "off"
    errors = _Errors()
    logging.getLogger("uvicorn.error").addHandler(errors)
    try:
        with serving_config_in_thread(config):
            bases = [cls.__name__ for cls in config.http.__mro__]  # type: ignore[union-attr]
            expected = "HttpToolsProtocol" if parser is HttpParser.HTTPTOOLS else "H11Protocol"
            assert expected in bases
            yield Served(port, errors.records)
    finally:
        logging.getLogger("uvicorn.error").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


def read_responses(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` responses with Content-Length bodies, or those that came before the server
    closed (the last one possibly partial, or empty)."""
    data, responses = b"", []
    while len(responses) < count:
        head, found, rest = data.partition(b"\r\n\r\n")
        if found:
            length = [
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ]
            if length and len(rest) >= length[0]:
                responses.append(head + found + rest[: length[0]])
                data = rest[length[0] :]
                continue
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            chunk = b""
        if not chunk:
            return [*responses, data]
        data += chunk
    return responses


def read_response(sock: socket.socket) -> bytes:
    return read_responses(sock, 1)[0]


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), headers, body


def closed(sock: socket.socket) -> bool:
    """Whether the server closed the connection (an empty read or a reset)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


GET = b"GET /ok HTTP/1.1\r\nHost: kefu\r\n\r\n"


def test_a_request_is_answered_and_the_connection_kept_alive(served: Served) -> None:
    with served.connect() as sock:
        for _ in range(3):
            sock.sendall(b"POST /ok HTTP/1.1\r\nHost: kefu\r\nContent-Length: 5\r\n\r\nhello")
            status, _, body = split_response(read_response(sock))
            assert status == 200 and json.loads(body) == {"path": "/ok", "size": 5}


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(
            b"GET /slow HTTP/1.1\r\nHost: kefu\r\n\r\n"
            b"POST /second HTTP/1.1\r\nHost: kefu\r\nContent-Length: 2\r\n\r\nhi"
            b"GET /third HTTP/1.1\r\nHost: kefu\r\n\r\n"
        )
        # /slow takes longer than the header timeout: requests waiting behind it are not cut.
        answers = [split_response(raw) for raw in read_responses(sock, 3)]
    assert [(s, json.loads(b)["path"]) for s, _, b in answers] == [
        (200, "/slow"),
        (200, "/second"),
        (200, "/third"),
    ]


def test_headers_trickled_a_byte_at_a_time_get_408(served: Served) -> None:
    started = time.monotonic()
    with served.connect() as sock:
        for byte in b"GET /ok HTTP/1.1\r\nHost: kefu\r\nX-Slow: " + b"a" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.05)  # each byte would restart uvicorn's keep-alive timer
            if time.monotonic() - started > HEADER_TIMEOUT_S + 1:
                break
        status, headers, body = split_response(read_response(sock))
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 1.5
    assert status == 408 and headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == "request_timeout"


def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(
    served: Served,
) -> None:
    with served.connect() as sock:
        sock.sendall(GET)
        assert split_response(read_response(sock))[0] == 200
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: ke")  # ...and no more
        started = time.monotonic()
        status, _, body = split_response(read_response(sock))
        assert status == 408 and json.loads(body)["code"] == "request_timeout"
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 1
        assert closed(sock)


def test_a_connection_that_sends_nothing_is_closed_quietly(served: Served) -> None:
    with served.connect() as sock:
        started = time.monotonic()
        assert read_response(sock) == b""  # closed without a response
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 1


def test_a_slow_answer_is_not_cut_by_the_header_timeout(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: kefu\r\n\r\n")
        status, _, body = split_response(read_response(sock))
        assert status == 200 and json.loads(body)["path"] == "/slow"


def test_connections_over_the_cap_get_503_at_once(served: Served) -> None:
    sockets = [served.connect() for _ in range(MAX_CONNECTIONS + 2)]
    try:
        for sock in sockets[-2:]:
            status, _, body = split_response(read_response(sock))
            assert status == 503 and json.loads(body)["code"] == "service_unavailable"
            assert closed(sock)
        time.sleep(HEADER_TIMEOUT_S + 0.3)  # the idle ones are closed by the header timeout
        assert all(closed(sock) for sock in sockets[: MAX_CONNECTIONS - 1])
    finally:
        for sock in sockets:
            sock.close()
    with served.connect() as sock:  # room again
        sock.sendall(GET)
        assert split_response(read_response(sock))[0] == 200


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: kefu\r\nBad Header\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: kefu\r\nContent-Length: -5\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: kefu\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    # A bad chunk: the request is already in the app, reading its body.
    b"POST /ok HTTP/1.1\r\nHost: kefu\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /ok HTTP/1.1\r\nHost: kefu\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
]


@pytest.mark.parametrize("request_bytes", MALFORMED)
@pytest.mark.parametrize("after_an_answer", [False, True], ids=["first", "kept-alive"])
def test_malformed_http_gets_400_in_the_envelope(
    served: Served, request_bytes: bytes, after_an_answer: bool
) -> None:
    with served.connect() as sock:
        if after_an_answer:
            sock.sendall(GET)
            assert split_response(read_response(sock))[0] == 200
        sock.sendall(request_bytes)
        raw = read_response(sock)
        status, headers, body = split_response(raw)
        assert status == 400, raw[:300]
        assert headers["content-type"] == "application/json"
        assert headers["connection"] == "close"
        envelope = json.loads(body)
        assert envelope["status"] == 400 and envelope["code"] == "bad_request"
        assert envelope["message"].startswith("Malformed HTTP request")
        assert closed(sock)


def test_auto_is_httptools_when_installed() -> None:
    assert HttpParser.AUTO.resolved() is HttpParser.HTTPTOOLS
    assert HttpParser.H11.resolved() is HttpParser.H11


def test_auto_falls_back_to_h11_without_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "httptools" else real(name, *a),
    )
    assert HttpParser.AUTO.resolved() is HttpParser.H11


def test_serve_passes_the_parser_choice(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    for parser, base in (
        (HttpParser.AUTO, "HttpToolsProtocol"),
        (HttpParser.HTTPTOOLS, "HttpToolsProtocol"),
        (HttpParser.H11, "H11Protocol"),
    ):
        config = server_config(echo_app, settings, host="127.0.0.1", port=1, parser=parser)
        names = [cls.__name__ for cls in config.http.__mro__]  # type: ignore[union-attr]
        assert base in names and names[0].startswith("Guarded"), names


def test_the_last_connection_within_the_cap_is_served(served: Served) -> None:
    # uvicorn's own limit counted this connection among the open ones and refused it.
    idle = [served.connect() for _ in range(MAX_CONNECTIONS - 1)]
    try:
        with served.connect() as sock:
            sock.sendall(GET)
            assert split_response(read_response(sock))[0] == 200
    finally:
        for sock in idle:
            sock.close()
