"""SIGTERM drains `kefu serve`: no new connections, the answer streaming at that moment runs
to its ``message_end`` and is stored, then the process exits 0; ``KEFU_DRAIN_TIMEOUT_S``
bounds the wait. A real server and a real (slow) OpenAI-compatible model server."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.store import Store
from tests.model_server import SlowModel, running_model
from tests.servers import KEY, free_port, spawn_until_healthy
from tests.sse import parse_sse

pytestmark = pytest.mark.integration

QUESTION = "刻字的商品多久发货"  # no direct FAQ answer: retrieved, then generated


@contextmanager
def serving(
    data_dir: Path, model_url: str, drain_s: float, parser: str = "auto"
) -> Iterator[tuple[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DEMO_API_KEY": KEY,
        "KEFU_ADMIN_KEY": "admin-real",
        "KEFU_LLM_BASE_URL": model_url,
        "KEFU_LLM_MODEL": "slow",
        "KEFU_DRAIN_TIMEOUT_S": str(drain_s),
    }
    command = [sys.executable, "-m", "kefu.cli.main", "serve", "--demo", "--port", str(port)]
    process = spawn_until_healthy(
        [*command, "--data-dir", str(data_dir), "--http", parser],
        env,
        data_dir.parent / "server.log",
        f"http://127.0.0.1:{port}/health",
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class Streamer(threading.Thread):
    """Asks one streamed question and keeps every SSE event it receives."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream(
                "POST",
                f"{self.base_url}/v1/chat-messages",
                headers={"Authorization": f"Bearer {KEY}"},
                json={"query": QUESTION, "user": "drain", "response_mode": "streaming"},
                timeout=60,
            ) as response:
                assert response.status_code == 200
                body = "".join(response.iter_text())
            self.events = [data for name, data in parse_sse(body) if name == "message"]
        except BaseException as exc:
            self.error = exc


def refuses_connections(base_url: str, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base_url}/health", timeout=0.5)
        except httpx.TransportError:
            return True
        time.sleep(0.05)
    return False


# The drain closes each connection through its protocol: both parsers kefu serve can run.
@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_sigterm_lets_the_streaming_answer_finish_then_exits_0(tmp_path: Path, parser: str) -> None:
    pieces = ("刻字", "商品", "需要", "额外", "三到", "五个", "工作日", "制作", "后发货", " [1]。")
    model = SlowModel(pieces, delay_s=0.3)  # about 3 s of streaming
    data_dir = tmp_path / "data"
    with (
        running_model(model) as model_url,
        serving(data_dir, model_url, 30, parser) as (url, process),
    ):
        streamer = Streamer(url)
        streamer.start()
        assert model.started.wait(30), "the answer never started streaming"
        process.send_signal(signal.SIGTERM)
        assert refuses_connections(url, within_s=2), "still accepting after SIGTERM"
        streamer.join(timeout=30)
        assert process.wait(timeout=30) == 0
    assert streamer.error is None, streamer.error
    events = streamer.events
    assert events[-1]["event"] == "message_end"
    assert "message_replace" not in [e["event"] for e in events]  # not cut off
    answer = "".join(e["answer"] for e in events if e["event"] == "message")
    assert answer == "".join(pieces)
    # Stored before the exit: the restarted store has the whole answer.
    store = Store.open(f"sqlite:///{data_dir / 'kefu.db'}")
    try:
        app = store.apps.get_by_name("demo-shop")
        assert app is not None
        stored = store.conversations.get_message(app.id, events[-1]["message_id"])
        assert stored is not None and stored.answer == answer
    finally:
        store.close()


def test_the_drain_timeout_bounds_the_wait(tmp_path: Path) -> None:
    model = SlowModel(tuple(f"{n}," for n in range(60)), delay_s=0.25)  # 15 s of streaming
    with (
        running_model(model) as model_url,
        serving(tmp_path / "data", model_url, drain_s=1) as (url, process),
    ):
        streamer = Streamer(url)
        streamer.start()
        assert model.started.wait(30), "the answer never started streaming"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        waited = time.monotonic() - started
        streamer.join(timeout=30)
    assert waited < 8, f"the drain took {waited:.1f} s with a 1 s timeout"
    answer = "".join(e.get("answer", "") for e in streamer.events if e["event"] == "message")
    assert len(answer) < len("".join(model.pieces))  # cut off, not finished
