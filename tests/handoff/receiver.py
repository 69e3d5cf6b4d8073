"""A real HTTP server in a thread that records webhook deliveries (and can fail on cue)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    url: str
    deliveries: list[Delivery] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before a 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self, name: str) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.headers.get("x-kefu-event") == name]

    def wait_for(self, name: str, count: int = 1, timeout_s: float = 10.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} {name!r} webhook(s) expected, got {self.events(name)}")

    def clear(self) -> None:
        with self.lock:
            self.deliveries.clear()
            self.fail_next.clear()


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with receiver.lock:
                receiver.deliveries.append(Delivery(self.path, headers, body))
                status = receiver.fail_next.pop(0) if receiver.fail_next else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
