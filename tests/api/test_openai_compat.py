"""The official OpenAI SDK talks to a bot through /v1/chat/completions (`model` = app)."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from kefu.engine.runtime import Runtime
from tests.conftest import DEMO_KEY


@pytest.fixture
def sdk(client: httpx.AsyncClient) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=DEMO_KEY, base_url="http://kefu.test/v1", http_client=client, max_retries=0
    )


async def test_blocking_completion(sdk: AsyncOpenAI, user: str) -> None:
    completion = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "How long does shipping take?"},
        ],
        user=user,
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    content = completion.choices[0].message.content or ""
    assert "days" in content
    extras = completion.model_extra["kefu"]  # type: ignore[index]
    assert extras["retriever_resources"], "answers carry their sources"


async def test_streaming_completion_matches_blocking(sdk: AsyncOpenAI, user: str) -> None:
    blocking = await sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": "退货要扣多少运费?"}], user=user
    )
    stream = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[{"role": "user", "content": "退货要扣多少运费?"}],
        user=user,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == blocking.choices[0].message.content
    assert finish == "stop"
    assert usage is not None and usage.total_tokens == 0


async def test_model_must_name_the_keys_app(sdk: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "When are you open?"}]
        )


async def test_needs_a_user_message(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "demo-shop", "messages": [{"role": "system", "content": "hi"}]},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param"
    empty = await client.post("/v1/chat/completions", json={"model": "demo-shop", "messages": []})
    assert empty.status_code == 400
