"""A runtime of its own (the tiny app) per test: knowledge changes never leak between tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.services.runtime import Runtime
from tests.conftest import TINY_APP, make_settings
from tests.servers import in_process_client


@pytest.fixture
def kb_runtime(tmp_path: Path) -> Iterator[Runtime]:
    # A small upload limit, so the 413 test sends kilobytes, not the 20 MB default.
    runtime = Runtime.build(
        make_settings(tmp_path / "data", max_body_bytes=32_000, max_upload_bytes=64_000), [TINY_APP]
    )
    yield runtime
    runtime.close()


@pytest.fixture
async def kb(kb_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The knowledge API of the tiny app, with a dataset key."""
    _, key = kb_runtime.apps.new_key(kb_runtime.apps.get("tiny"), "dataset")
    async with in_process_client(kb_runtime, key) as http:
        yield http
    await kb_runtime.datasets.wait_indexed(kb_runtime.apps.get("tiny"))


@pytest.fixture
async def service(kb_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The tiny app's service API, with an app key."""
    _, key = kb_runtime.apps.new_key(kb_runtime.apps.get("tiny"), "app")
    async with in_process_client(kb_runtime, key) as http:
        yield http
    await kb_runtime.aclose_models()


async def wait_completed(kb: httpx.AsyncClient, dataset_id: str, batch: str) -> list[Any]:
    """Poll the batch's indexing status until every document is ``completed``."""
    for _ in range(200):
        response = await kb.get(f"/v1/datasets/{dataset_id}/documents/{batch}/indexing-status")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        if all(d["indexing_status"] == "completed" for d in data):
            return list(data)
        await asyncio.sleep(0.02)
    raise AssertionError(f"batch {batch} never completed: {data}")


async def new_dataset(kb: httpx.AsyncClient, name: str = "policies") -> str:
    response = await kb.post("/v1/datasets", json={"name": name, "description": "test"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])
