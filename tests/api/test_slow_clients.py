"""Slow or stalled clients cannot hold the server: a body that stops arriving gets 408 in
the envelope after ``KEFU_BODY_TIMEOUT_S``, and the server keeps answering others."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers import KEY, running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KEFU_BODY_TIMEOUT_S", "1")
        with running_server(tmp_path_factory.mktemp("slow-clients") / "data") as base_url:
            yield base_url


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length body, whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_body_shorter_than_its_length_gets_408(server: str) -> None:
    address = urlsplit(server)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat-messages HTTP/1.1\r\nHost: kefu\r\n"
            + f"Authorization: Bearer {KEY}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            + b'{"query": '  # ...and nothing more
        )
        started = time.monotonic()
        # Meanwhile the server answers everyone else.
        assert httpx.get(server + "/health", timeout=5).status_code == 200
        reply = read_response(sock)
        waited = time.monotonic() - started
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), head
    assert waited < 8  # the 1 s timeout, not a hang
    envelope = json.loads(body)
    assert envelope["status"] == 408 and envelope["code"] == "request_timeout"
