"""CPU per request of ``kefu serve``'s HTTP protocols, without the network or kefu's app.

``bench/turn_cpu.py`` drives kefu's ASGI app in process, so it leaves out the HTTP parser;
over sockets (``realistic_load.py``) the parser's share is lost in the turn's noise. Here
each guarded protocol (:mod:`kefu.api.http_protocol`: httptools and h11), and uvicorn's
plain httptools one for reference, parses a realistic ``POST /v1/chat-messages`` fed
straight to ``data_received``, runs a trivial ASGI app and frames its JSON answer into an
in-memory transport: the protocol's own CPU per request (``time.thread_time``).

    .venv/bin/python bench/http_protocol_cpu.py [--requests 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from kefu.api.http_parser import HttpParser
from kefu.api.http_protocol import guarded_http_protocol

_BODY = json.dumps(
    {
        "query": "你好，请问订单多久发货？谢谢",
        "user": "customer-000123",
        "response_mode": "blocking",
    },
    ensure_ascii=False,
).encode()
REQUEST = (
    b"POST /v1/chat-messages HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"Authorization: Bearer app-bench-key\r\nContent-Type: application/json\r\n"
    b"Accept: application/json\r\nContent-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)
ANSWER = json.dumps({"event": "message", "answer": "x" * 300}).encode()
WARMUP = 500


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(ANSWER)).encode()),
        (b"x-request-id", b"0123456789abcdef"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


class _Transport(asyncio.Transport):
    """Keeps what is written; a loopback peer."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _per_request_us(protocol_class: type[asyncio.Protocol], requests: int) -> float:
    config = uvicorn.Config(_app, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    protocol: Any = protocol_class(  # type: ignore[call-arg]
        config=config, server_state=state, app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = _Transport()
    protocol.connection_made(transport)

    async def serve(count: int) -> None:
        for _ in range(count):
            protocol.data_received(REQUEST)
            # The app runs as a task: yield until it has answered (an Event would add its own
            # cost to every request measured).
            while state.tasks:  # noqa: ASYNC110
                await asyncio.sleep(0)

    await serve(WARMUP)
    transport.written.clear()
    started = time.thread_time()
    await serve(requests)
    elapsed = time.thread_time() - started
    answered = sum(ANSWER in chunk for chunk in transport.written)
    if answered != requests:
        raise SystemExit(f"{protocol_class.__name__}: {answered} of {requests} answered")
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def _run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    limits = {"header_timeout_s": 10.0, "max_connections": 1000}
    protocols: dict[str, type[asyncio.Protocol]] = {
        "kefu httptools": guarded_http_protocol(HttpParser.HTTPTOOLS, **limits),  # type: ignore[arg-type]
        "kefu h11": guarded_http_protocol(HttpParser.H11, **limits),  # type: ignore[arg-type]
        "uvicorn httptools": HttpToolsProtocol,
    }
    runs: dict[str, list[float]] = {name: [] for name in protocols}
    for _ in range(args.rounds):  # alternated: a noisy machine affects all alike
        for name, protocol_class in protocols.items():
            runs[name].append(await _per_request_us(protocol_class, args.requests))
    return {
        name: {
            "min_us": round(min(values), 1),
            "median_us": round(statistics.median(values), 1),
        }
        for name, values in runs.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    print(json.dumps(asyncio.run(_run(parser.parse_args(argv))), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
