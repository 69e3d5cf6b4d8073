"""kefu against a real OpenAI-compatible LLM server (llama.cpp serving SmolLM2-135M).

The model is tiny and its answers are poor; these tests check the plumbing a real
deployment relies on: true streaming, usage, storage, fallback when the server dies, and
the ``llamacpp`` provider (a GGUF file kefu serves itself).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from kefu.appfile.llm_config import ProviderConfig, SamplingConfig
from kefu.llm.fallback import FallbackChain
from kefu.llm.llamacpp_server import LlamaCppServer
from kefu.llm.openai_compat import OpenAIChatModel
from kefu.services.runtime import Runtime
from tests.conftest import DEMO_KEY, make_settings
from tests.llm.conftest import start_llama_server
from tests.servers import in_process_client
from tests.sse import parse_sse

# One event loop for the module: the runtime (and its model clients) outlive a test.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
QUESTION = "刻字的商品多久发货"  # no direct FAQ answer: retrieve, then generate


def limit_tokens(runtime: Runtime, max_tokens: int = 48) -> None:
    app = runtime.apps.get("demo-shop")
    llm = app.config.llm.model_copy(
        update={"sampling": SamplingConfig(temperature=0.0, max_tokens=max_tokens)}
    )
    app.config = app.config.model_copy(update={"llm": llm})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llm_runtime(
    tmp_path_factory: pytest.TempPathFactory, llama_server: LlamaCppServer
) -> AsyncIterator[Runtime]:
    settings = make_settings(
        tmp_path_factory.mktemp("llm-data"), llm_base_url=llama_server.base_url, llm_model="smollm2"
    )
    runtime = Runtime.build(settings, [], demo=True)
    limit_tokens(runtime)
    yield runtime
    await runtime.aclose_models()
    runtime.close()


@pytest_asyncio.fixture(loop_scope="module")
async def client(llm_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(llm_runtime, DEMO_KEY) as http:
        yield http


async def test_blocking_answer_is_generated_and_stored(client: httpx.AsyncClient) -> None:
    body = {"query": QUESTION, "user": "llm-1", "response_mode": "blocking"}
    answer = (await client.post("/v1/chat-messages", json=body)).json()
    assert answer["answer"].strip()
    usage = answer["metadata"]["usage"]
    assert usage["prompt_tokens"] > 100, "the prompt carried the sources (estimated if need be)"
    assert 0 < usage["completion_tokens"] <= 48
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert answer["metadata"]["retriever_resources"]
    trace = (
        await client.get(
            f"/admin/messages/{answer['message_id']}/trace",
            headers={"Authorization": "Bearer admin-test-key"},
        )
    ).json()
    assert trace["route"] == "generate"
    generate = next(s for s in trace["stages"] if s["name"] == "generate")
    assert generate["model"].startswith("openai:smollm2@") and "error" not in generate
    assert trace["prompt"][0]["role"] == "system"


async def test_streaming_sends_tokens_as_they_come(client: httpx.AsyncClient) -> None:
    body = {"query": QUESTION, "user": "llm-2", "response_mode": "streaming"}
    response = await client.post("/v1/chat-messages", json=body)
    events = [data for _, data in parse_sse(response.text)]
    names = [e["event"] for e in events]
    assert names[-1] == "message_end" and set(names[:-1]) == {"message"}
    assert len(names) > 5, "many token-sized message events, not one block"
    end = events[-1]["metadata"]
    assert end["usage"]["completion_tokens"] > 0 and end["usage"]["latency"] > 0


async def test_openai_sdk_streams_through_kefu(client: httpx.AsyncClient) -> None:
    sdk = AsyncOpenAI(api_key=DEMO_KEY, base_url="http://kefu.test/v1", http_client=client)
    stream = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[{"role": "user", "content": "What happens if I refuse delivery?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    async for chunk in stream:
        usage = chunk.usage or usage
        pieces += [c.delta.content or "" for c in chunk.choices]
    assert len([p for p in pieces if p]) > 3 and "".join(pieces).strip()
    assert usage is not None and usage.completion_tokens > 0


async def test_stop_ends_generation_early(client: httpx.AsyncClient, llm_runtime: Runtime) -> None:
    limit_tokens(llm_runtime, 400)
    try:
        app = llm_runtime.apps.get("demo-shop")
        from kefu.services.chat import ChatRequest, TurnResult

        turn = await llm_runtime.chat.prepare(ChatRequest(app=app, user="stopper", query=QUESTION))
        stopped_at = 0.0
        events = []
        async for event in llm_runtime.chat.stream(turn):
            events.append(event)
            if len(events) == 3:
                stopped_at = time.perf_counter()
                llm_runtime.chat.stop(app, "stopper", turn.task_id)
        result = events[-1]
        assert isinstance(result, TurnResult) and result.status == "stopped"
        assert len(events) <= 5
        # 400 tokens take this server well over 10 s; a stop ends the stream at once (the
        # clock starts at the stop, so a slow first token on a busy machine does not count).
        assert time.perf_counter() - stopped_at < 5
    finally:
        limit_tokens(llm_runtime)


async def test_killed_server_still_answers(tmp_path: Path) -> None:
    """Primary dies mid-run: first the secondary answers, then (both gone) the extractive."""
    with start_llama_server() as primary_server, start_llama_server() as secondary_server:
        config = ProviderConfig(provider="openai", model="smollm2", retries=0, timeout_s=20)
        models = [
            OpenAIChatModel(config.model_copy(update={"base_url": server.base_url}), None)
            for server in (primary_server, secondary_server)
        ]
        chain = FallbackChain(models, failures=1, reset_s=60)
        runtime = Runtime.build(make_settings(tmp_path / "data"), [], demo=True)
        limit_tokens(runtime, 24)
        app = runtime.apps.get("demo-shop")
        app.model = chain
        from kefu.services.chat import ChatRequest

        async def ask(user: str) -> tuple[str, str]:
            turn = await runtime.chat.prepare(ChatRequest(app=app, user=user, query=QUESTION))
            result = await runtime.chat.answer(turn)
            return result.answer, turn.ctx.trace.facts.get("fallback", "")

        answer, fallback = await ask("k1")
        assert answer and not fallback and chain.last_used == chain.models[0].name
        primary_server.stop()
        answer, fallback = await ask("k2")
        assert answer and not fallback and chain.last_used == chain.models[1].name
        assert chain.breakers[0].state == "open"
        secondary_server.stop()
        answer, fallback = await ask("k3")
        assert fallback == "extractive" and answer.startswith("根据《配送政策》")
        await chain.aclose()
        runtime.close()
