"""A served hand-over app (real uvicorn in a thread, for live events) and a webhook receiver.

The hand-over tier runs on SQLite and on PostgreSQL: the same tests, once per database; the
desk runtime and its server are kept per module and per database."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kefu.api.app import create_app
from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY, BACKENDS, FIXTURES, PerBackend, backend_settings
from tests.handoff.receiver import Receiver, running_receiver
from tests.servers import free_port, in_process_client

DESK_APP = Path(__file__).parent / "apps" / "desk.yaml"
WEBHOOK_SECRET = b"test-webhook-secret"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def desk_runtimes() -> Iterator[PerBackend[Runtime]]:
    pool: PerBackend[Runtime] = PerBackend(Runtime.close)
    yield pool
    pool.close()


@pytest.fixture
def desk_runtime(
    request: pytest.FixtureRequest,
    desk_runtimes: PerBackend[Runtime],
    db_backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: Receiver,
) -> Runtime:
    """The desk app, one runtime per module and database."""

    def build() -> Runtime:
        folder = tmp_path_factory.mktemp(f"desk-{db_backend}")
        app_file = folder / "desk.yaml"
        app_file.write_text(
            DESK_APP.read_text(encoding="utf-8")
            .replace("FAQ_PATH", str(FIXTURES / "apps" / "tiny" / "faq.jsonl"))
            .replace("WEBHOOK_URL", receiver.url),
            encoding="utf-8",
        )
        # Module-long: its PostgreSQL database outlives the test that built it.
        settings = backend_settings(request, db_backend, folder / "data", drop=False)
        runtime = Runtime.build(settings, [app_file])
        runtime.handoff.notify.dispatcher.backoff_s = 0.01
        return runtime

    return desk_runtimes.get(db_backend, build)


@pytest.fixture(scope="module")
def desk_keys() -> PerBackend[str]:
    return PerBackend()


@pytest.fixture
def desk_key(desk_runtime: Runtime, desk_keys: PerBackend[str], db_backend: str) -> str:
    app = desk_runtime.apps.get("desk")
    return desk_keys.get(db_backend, lambda: desk_runtime.apps.new_key(app, "app")[1])


@dataclass
class Desk:
    """The service API (customer) and the agent/admin APIs of the desk app, in process."""

    http: httpx.AsyncClient
    app_key: str
    runtime: Runtime

    async def ask(self, user: str, query: str, conversation_id: str = "") -> dict[str, Any]:
        response = await self.http.post(
            "/v1/chat-messages",
            json={"query": query, "user": user, "response_mode": "blocking",
                  "conversation_id": conversation_id},
            headers={"Authorization": f"Bearer {self.app_key}"},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def new_agent(self, name: str, apps: list[str] | None = None) -> str:
        response = await self.http.post(
            "/admin/agents", json={"name": name, "apps": apps or ["*"]}, headers=admin_headers()
        )
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    async def agent(self, key: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return await self.http.request(method, "/v1/agent" + path, headers=headers, **kwargs)

    async def conversation(self, user: str, conversation_id: str) -> dict[str, Any]:
        response = await self.http.get(
            "/v1/conversations",
            params={"user": user},
            headers={"Authorization": f"Bearer {self.app_key}"},
        )
        found = [c for c in response.json()["data"] if c["id"] == conversation_id]
        return dict(found[0])


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def desk(desk_runtime: Runtime, desk_key: str) -> AsyncIterator[Desk]:
    async with in_process_client(desk_runtime) as http:
        yield Desk(http, desk_key, desk_runtime)
        await desk_runtime.handoff.notify.dispatcher.drain()


@dataclass
class ServedDesk:
    """uvicorn serving the desk app in a thread."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_desk(runtime: Runtime) -> ServedDesk:
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime, close_runtime=False), host="127.0.0.1", port=port,
        log_level="warning", lifespan="on",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return ServedDesk(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="module")
def served_desks(desk_runtimes: PerBackend[Runtime]) -> Iterator[PerBackend[ServedDesk]]:
    pool: PerBackend[ServedDesk] = PerBackend(ServedDesk.stop)  # stopped before the runtimes
    yield pool
    pool.close()


@pytest.fixture
def served_desk(
    desk_runtime: Runtime, served_desks: PerBackend[ServedDesk], db_backend: str
) -> str:
    """The desk app on a real port (live event streams need a real server)."""
    return served_desks.get(db_backend, lambda: serve_desk(desk_runtime)).url
