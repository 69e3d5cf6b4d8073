"""A real OpenAI-compatible embedding and rerank server on a loopback port, with faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.knowledge._fakes import ConceptEmbedder

EMBEDDINGS, RERANK = "/v1/embeddings", "/v1/rerank"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is expected here, not an error."""


class ModelServer:
    """Serves ``/v1/embeddings`` (vectors from :class:`ConceptEmbedder`, not normalised)
    and ``/v1/rerank`` (share of query words in each document).

    Faults: ``faults`` queues ``(status, body)`` replies or ``("sleep", seconds)`` to serve
    first; ``broken[path] = (status, body)`` answers every request to ``path`` so;
    ``hanging`` holds paths whose requests are read and never answered (until the server
    stops), and ``hung`` is set when one arrives.
    """

    def __init__(self) -> None:
        self.embedder = ConceptEmbedder(dim=16)
        self.faults: list[tuple[Any, Any]] = []
        self.broken: dict[str, tuple[int, Any]] = {}
        self.hanging: set[str] = set()
        self.hung = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.paths.append(self.path)
                server.headers.append(dict(self.headers))
                if self.path in server.hanging:
                    server.hung.set()
                    server._stopping.wait()
                    self.close_connection = True
                    return None
                if self.path in server.broken:
                    return self.reply(*server.broken[self.path])
                if server.faults:
                    status, detail = server.faults.pop(0)
                    if status == "sleep":
                        time.sleep(detail)
                    else:
                        return self.reply(status, detail)
                if self.path == EMBEDDINGS:
                    vectors = server.embedder.embed(body["input"]) * 3.0
                    data = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
                    return self.reply(200, {"object": "list", "data": data[::-1]})
                if self.path == RERANK:
                    words = set(body["query"].lower().split())
                    results = [
                        {"index": i, "relevance_score": len(words & set(d.lower().split())) / 3}
                        for i, d in enumerate(body["documents"])
                    ]
                    return self.reply(
                        200, {"results": sorted(results, key=lambda r: -r["relevance_score"])}
                    )
                return self.reply(404, {"error": "no such route"})

            def reply(self, status: int, payload: Any) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def calls(self, path: str) -> int:
        """How many requests reached ``path``."""
        return self.paths.count(path)

    def stop(self) -> None:
        self._stopping.set()  # hanging requests end (unanswered)
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serving_models() -> Iterator[ModelServer]:
    """A :class:`ModelServer` answering on a thread for the ``with`` block."""
    server = ModelServer()
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)
