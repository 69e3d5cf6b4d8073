"""``/health`` says the process runs; ``/ready`` makes a real round trip to each dependency
(database, Redis when configured, remote models) and answers 503 in the error envelope, with
every check, when one fails or the process is draining."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kefu.appfile.llm_config import ProviderConfig
from kefu.core.settings import Settings
from kefu.llm.openai_compat import OpenAIChatModel
from kefu.services.readiness import Readiness
from kefu.services.runtime import Runtime
from kefu.store import Store
from kefu.store.db import create_db_engine
from tests.model_server import SlowModel, running_model
from tests.servers import free_port, in_process_client


@pytest.fixture
async def http(llm_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(llm_runtime) as client:
        yield client
    await llm_runtime.aclose_models()


def remote_model(base_url: str) -> OpenAIChatModel:
    return OpenAIChatModel(ProviderConfig(provider="openai", base_url=base_url, model="m"), None)


async def ready(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await http.get("/ready")
    return response.status_code, response.json()


async def test_ready_checks_the_database_for_real(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert list(body["checks"]) == ["database"]  # no Redis, no remote model configured
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert (await client.get("/health")).json()["status"] == "ok"


async def test_an_unreachable_database_is_503_in_the_envelope(
    llm_runtime: Runtime, http: httpx.AsyncClient
) -> None:
    # A store on a port nothing listens on: every query fails to connect.
    dead = Store(create_db_engine(f"postgresql://kefu@127.0.0.1:{free_port()}/kefu"))
    llm_runtime.readiness = Readiness(llm_runtime.settings, dead, llm_runtime.apps)
    try:
        status, body = await ready(http)
    finally:
        dead.close()
    assert status == 503
    assert body["status"] == 503 and body["code"] == "not_ready"
    assert body["message"].startswith("not ready (未就绪): database: ")
    assert body["checks"]["database"]["ok"] is False
    assert "\n" not in body["checks"]["database"]["error"]
    assert (await http.get("/health")).status_code == 200  # still alive


async def test_the_primary_model_is_checked_when_it_is_remote(
    llm_runtime: Runtime, http: httpx.AsyncClient
) -> None:
    app = llm_runtime.apps.get("demo-shop")
    with running_model(SlowModel(("hi",), 0)) as base_url:
        model = app.model = remote_model(base_url)
        status, body = await ready(http)
        await model.aclose()
        assert status == 200, body
        assert body["checks"][f"model openai:m@{base_url}"]["ok"] is True
    # The server is gone: not ready, and the model is named.
    app.model = remote_model(f"http://127.0.0.1:{free_port()}/v1")
    status, body = await ready(http)
    assert status == 503
    assert body["checks"]["database"]["ok"] is True
    assert "cannot reach the model server" in body["message"]


async def test_a_model_that_does_not_answer_in_time_is_not_ready(
    llm_runtime: Runtime, http: httpx.AsyncClient
) -> None:
    settings = llm_runtime.settings.model_copy(update={"ready_timeout_s": 0.2})
    llm_runtime.readiness = Readiness(settings, llm_runtime.store, llm_runtime.apps)
    hanging = SlowModel(("x",), 0)
    hanging.models_delay_s = 2
    with running_model(hanging) as base_url:
        llm_runtime.apps.get("demo-shop").model = remote_model(base_url)
        status, body = await ready(http)
    assert status == 503
    check = body["checks"][f"model openai:m@{base_url}"]
    assert check["ok"] is False and check["latency_ms"] < 2000


async def test_redis_is_pinged_when_configured(
    llm_runtime: Runtime, http: httpx.AsyncClient
) -> None:
    settings = Settings(
        **llm_runtime.settings.model_dump(exclude={"ready_timeout_s", "redis_url"}),
        ready_timeout_s=1.0,
        redis_url=SecretStr(f"redis://127.0.0.1:{free_port()}/0"),
    )
    llm_runtime.readiness = Readiness(settings, llm_runtime.store, llm_runtime.apps)
    status, body = await ready(http)
    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


async def test_a_draining_process_is_not_ready(
    llm_runtime: Runtime, http: httpx.AsyncClient
) -> None:
    llm_runtime.readiness.draining = True
    status, body = await ready(http)
    assert status == 503 and body["draining"] is True
    assert "draining" in body["message"]


async def test_a_reachable_redis_is_ready(
    llm_runtime: Runtime, http: httpx.AsyncClient, redis_url: str
) -> None:
    settings = Settings(
        **llm_runtime.settings.model_dump(exclude={"redis_url"}), redis_url=SecretStr(redis_url)
    )
    llm_runtime.readiness = Readiness(settings, llm_runtime.store, llm_runtime.apps)
    status, body = await ready(http)
    assert status == 200, body
    assert body["checks"]["redis"]["ok"] is True
