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

from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from kefu.testing.scripted import ScriptedReply
from tests.conftest import DEMO_KEY
from tests.servers import KEY, in_process_client, running_server


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


@pytest.mark.integration
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


async def test_a_long_stream_is_not_cut_by_the_body_timeout(llm_runtime: Runtime) -> None:
    """The timeout covers the request body only: an answer streaming longer still ends."""
    llm_runtime.settings = llm_runtime.settings.model_copy(update={"body_timeout_s": 0.2})
    model = ScriptedChatModel()
    model.replies.append(ScriptedReply(("拒收", "的运费", "由买家", "承担 [1]。"), delay_s=0.3))
    llm_runtime.apps.get("demo-shop").model = model
    async with in_process_client(llm_runtime) as http:
        body = {"query": "刻字的商品多久发货", "user": "long", "response_mode": "streaming"}
        headers = {"Authorization": f"Bearer {DEMO_KEY}"}
        async with http.stream("POST", "/v1/chat-messages", json=body, headers=headers) as reply:
            text = "".join([chunk async for chunk in reply.aiter_text()])
    assert reply.status_code == 200
    assert "message_end" in text and "request_timeout" not in text
