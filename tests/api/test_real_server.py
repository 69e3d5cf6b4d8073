"""Against a real uvicorn server on a free port: `kefu serve --demo`, stop mid-stream, restart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import KEY, free_port, start_server, stop_server
from tests.sse import parse_sse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real-server")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    port = free_port()
    process = start_server(data_dir, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def test_chat_page_and_streaming_over_http(server: str) -> None:
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "chat.js" in page.text
    assert httpx.get(server + "/static/chat.js").status_code == 200
    config = httpx.get(server + "/web/config").json()
    assert config["app"] == "demo-shop" and "token" not in config
    session = httpx.post(server + "/web/session", json={"app": "demo-shop"}).json()
    assert session["user"].startswith("web-")
    headers = {"Authorization": f"Bearer {session['token']}"}
    with httpx.stream(
        "POST",
        server + "/v1/chat-messages",
        headers=headers,
        json={"query": "订单多久发货?", "response_mode": "streaming"},
    ) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())
    events = [data for _, data in parse_sse(body)]
    assert events[-1]["event"] == "message_end"
    assert events[-1]["metadata"]["retriever_resources"]


def test_data_survives_restart(data_dir: Path, server: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    answer = httpx.post(
        server + "/v1/chat-messages",
        headers=headers,
        json={"query": "怎么开发票", "user": "restart-user", "response_mode": "blocking"},
    ).json()
    assert (data_dir / "kefu.db").is_file()
    journal = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1])"
            ".execute('pragma journal_mode').fetchone()[0])",
            str(data_dir / "kefu.db"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert journal.stdout.strip() == "wal"
    port = free_port()
    second = start_server(data_dir, port)  # a second process over the same data dir
    try:
        history = httpx.get(
            f"http://127.0.0.1:{port}/v1/messages",
            headers=headers,
            params={"conversation_id": answer["conversation_id"], "user": "restart-user"},
        )
        assert [m["id"] for m in history.json()["data"]] == [answer["message_id"]]
    finally:
        stop_server(second)
