"""The OpenAI-compatible adapter retries 5xx/429 with backoff, then gives up cleanly.

The model server is a real local HTTP server (uvicorn in a thread) that fails on purpose.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kefu.appfile.llm_config import ProviderConfig, SamplingConfig
from kefu.core.errors import ProviderError, ProviderRateLimited
from kefu.llm.base import ChatMessage
from kefu.llm.openai_compat import OpenAIChatModel
from tests.servers import free_port

pytestmark = pytest.mark.integration


class FlakyServer:
    """Answers ``failures`` requests with ``status``, then like an OpenAI server."""

    def __init__(self) -> None:
        self.failures, self.status, self.calls = 0, 503, 0
        app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    async def chat(self, request: Request) -> JSONResponse:
        self.calls += 1
        if self.calls <= self.failures:
            headers = {"retry-after-ms": "10"}
            return JSONResponse({"error": {"message": "busy"}}, self.status, headers=headers)
        return JSONResponse({
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        })  # fmt: skip

    def model(self, retries: int) -> OpenAIChatModel:
        config = ProviderConfig(
            provider="openai", base_url=f"http://127.0.0.1:{self.port}/v1", model="m",
            retries=retries, timeout_s=5,
        )  # fmt: skip
        return OpenAIChatModel(config, None)


@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    server = FlakyServer()
    yield server
    server.server.should_exit = True
    server.thread.join(timeout=10)


ASK = [ChatMessage("user", "hi")]


async def test_retries_5xx_then_succeeds(flaky: FlakyServer) -> None:
    flaky.failures = 2
    model = flaky.model(retries=2)
    completion = await model.complete(ASK, SamplingConfig())
    await model.aclose()
    assert completion.text == "ok" and completion.usage.total_tokens == 4
    assert flaky.calls == 3


async def test_gives_up_after_the_retries(flaky: FlakyServer) -> None:
    flaky.failures = 5
    model = flaky.model(retries=1)
    with pytest.raises(ProviderError, match="503"):
        await model.complete(ASK, SamplingConfig())
    await model.aclose()
    assert flaky.calls == 2


async def test_rate_limit_is_its_own_error(flaky: FlakyServer) -> None:
    flaky.failures, flaky.status = 5, 429
    model = flaky.model(retries=0)
    with pytest.raises(ProviderRateLimited):
        await model.complete(ASK, SamplingConfig())
    await model.aclose()
