"""A real ``kefu serve``: metrics on their own port, shared between processes through
``PROMETHEUS_MULTIPROC_DIR``, and JSON log lines."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.observability.scrape import parse, value
from tests.servers import KEY, free_port, spawn_until_healthy, stop_server

pytestmark = pytest.mark.integration


def test_metrics_port_multiprocess_files_and_json_logs(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "KEFU_DEMO_API_KEY": KEY,
        "KEFU_ADMIN_KEY": "admin-real",
        "KEFU_METRICS_PORT": str(metrics_port),
        "KEFU_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "kefu.cli.main", "serve", "--demo", "--port", str(port)]
    process = spawn_until_healthy(
        [*command, "--data-dir", str(tmp_path / "data")],
        env,
        log_path,
        f"http://127.0.0.1:{port}/health",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        answer = httpx.post(
            base + "/v1/chat-messages",
            json={"query": "订单多久发货?", "user": "real-metrics", "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {KEY}", "X-Request-Id": "real-1"},
            timeout=30,
        )
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "real-1"
        # /metrics lives on its own port now: the API port has none, even for the admin.
        on_api = httpx.get(base + "/metrics", headers={"Authorization": "Bearer admin-real"})
        assert on_api.status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert scraped.status_code == 200
        samples = parse(scraped.text)
        labels = {"app": "demo-shop", "route": "faq", "language": "zh"}
        assert value(samples, "kefu_turns_total", **labels) == 1
        assert any(multiproc.iterdir())  # the values live in the shared files
    finally:
        stop_server(process)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert any(line["message"].startswith("kefu serving demo-shop") for line in lines)
    started = [line for line in lines if "Application startup complete" in line["message"]]
    assert started and started[0]["logger"] == "uvicorn.error" and started[0]["level"] == "INFO"
