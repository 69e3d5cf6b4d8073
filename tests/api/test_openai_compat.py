"""The official OpenAI SDK talks to a bot through /v1/chat/completions (`model` = app)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel, ScriptedReply
from tests.conftest import ADMIN_KEY, DEMO_KEY
from tests.servers import in_process_client

ORDER_QUESTION = "我的订单还没发货,能查一下吗?"


@pytest.fixture
def sdk(client: httpx.AsyncClient) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=DEMO_KEY, base_url="http://kefu.test/v1", http_client=client, max_retries=0
    )


@pytest.fixture
async def llm_sdk(llm_runtime: Runtime) -> AsyncIterator[AsyncOpenAI]:
    """The demo app with a scripted model (most questions are generated)."""
    async with in_process_client(llm_runtime) as http:
        yield AsyncOpenAI(
            api_key=DEMO_KEY, base_url="http://kefu.test/v1", http_client=http, max_retries=0
        )


def scripted(runtime: Runtime, *replies: ScriptedReply) -> ScriptedChatModel:
    model = ScriptedChatModel(replies=list(replies))
    runtime.apps.get("demo-shop").model = model
    return model


async def test_blocking_completion(sdk: AsyncOpenAI, user: str) -> None:
    completion = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[
            {"role": "system", "content": "Answer in French and call yourself Bob."},
            {"role": "user", "content": "How long does shipping take?"},
        ],
        user=user,
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].finish_reason == "stop"
    content = completion.choices[0].message.content or ""
    assert "days" in content and "Bob" not in content  # the client's system message is ignored
    assert completion.usage is not None and completion.usage.total_tokens == 0  # extractive
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


async def test_models_lists_the_keys_app(sdk: AsyncOpenAI) -> None:
    models = await sdk.models.list()
    assert [m.id for m in models.data] == ["demo-shop"]
    (model,) = models.data
    assert model.object == "model" and model.owned_by == "kefu"
    assert time.time() - 86_400 < model.created <= time.time()  # when the app was created
    assert (await sdk.models.retrieve("demo-shop")).id == "demo-shop"
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk.models.retrieve("gpt-4o")
    assert missing.value.code == "model_not_found"


async def test_errors_are_the_sdks_exceptions(sdk: AsyncOpenAI, runtime: Runtime) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        await sdk.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "When are you open?"}]
        )
    assert (unknown.value.code, unknown.value.param) == ("model_not_found", "model")
    assert unknown.value.type == "invalid_request_error"

    stranger = sdk.with_options(api_key="app-not-a-key")
    with pytest.raises(openai.AuthenticationError) as denied:
        await stranger.chat.completions.create(
            model="demo-shop", messages=[{"role": "user", "content": "hi"}]
        )
    assert (denied.value.code, denied.value.type) == ("invalid_api_key", "authentication_error")
    with pytest.raises(openai.AuthenticationError):
        await stranger.models.list()

    with pytest.raises(openai.BadRequestError) as hot:
        await sdk.chat.completions.create(
            model="demo-shop", messages=[{"role": "user", "content": "hi"}], temperature=3
        )
    assert hot.value.param == "temperature" and hot.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as no_user:
        await sdk.chat.completions.create(
            model="demo-shop", messages=[{"role": "system", "content": "hi"}]
        )
    assert no_user.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as several:
        await sdk.chat.completions.create(
            model="demo-shop", messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert several.value.param == "n"
    with pytest.raises(openai.NotFoundError):  # kefu's extension: a conversation to continue
        await sdk.chat.completions.create(
            model="demo-shop",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"conversation_id": "0190a0a0-0000-7000-8000-000000000000"},
        )

    app = runtime.apps.get("demo-shop")
    runtime.chat._active[app.id] = app.config.security.max_concurrent_turns
    try:
        with pytest.raises(openai.RateLimitError) as busy:
            await sdk.chat.completions.create(
                model="demo-shop", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        runtime.chat._active[app.id] = 0
    assert busy.value.code == "rate_limit_exceeded"
    assert int(busy.value.response.headers["Retry-After"]) >= 1


async def test_error_envelopes_per_api(client: httpx.AsyncClient) -> None:
    """OpenAI's envelope on the OpenAI routes; Dify's everywhere else."""
    bad_key = {"Authorization": "Bearer app-wrong"}
    openai_401 = await client.post(
        "/v1/chat/completions",
        json={"model": "demo-shop", "messages": [{"role": "user", "content": "hi"}]},
        headers=bad_key,
    )
    assert openai_401.status_code == 401
    assert openai_401.json() == {
        "error": {
            "message": "Access token is invalid",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    models_401 = await client.get("/v1/models", headers=bad_key)
    assert models_401.status_code == 401 and models_401.json()["error"]["code"] == "invalid_api_key"
    not_json = await client.post(
        "/v1/chat/completions", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"] == "invalid_request_error"
    dify_401 = await client.post(
        "/v1/chat-messages", json={"query": "hi", "user": "u"}, headers=bad_key
    )
    assert dify_401.json() == {
        "status": 401,
        "code": "unauthorized",
        "message": "Access token is invalid",
    }


async def test_null_fields_mean_unset(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": "demo-shop",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "怎么开发票"}]}],
            "user": user,
            "stream": None,
            "temperature": None,
            "max_tokens": None,
            "stream_options": None,
            "stop": None,
        },
    )
    assert response.status_code == 200, response.text
    assert "发票" in response.json()["choices"][0]["message"]["content"]


async def test_earlier_messages_continue_the_flow(
    sdk: AsyncOpenAI, client: httpx.AsyncClient, user: str
) -> None:
    """A flow asked for the order number; the customer asks something else on the side:
    the answer comes with a reminder of the open question — the flow was carried on."""
    first = await sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": ORDER_QUESTION}], user=user
    )
    asked = first.choices[0].message.content or ""
    assert "订单号" in asked
    dialog: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": ORDER_QUESTION},
        {"role": "assistant", "content": asked},
        {"role": "user", "content": "退货要扣多少运费?"},
    ]
    second = await sdk.chat.completions.create(model="demo-shop", messages=dialog, user=user)
    answer = second.choices[0].message.content or ""
    assert "12" in answer and "订单号" in answer  # the FAQ answer, then the reminder
    ids = [c.model_extra["kefu"]["conversation_id"] for c in (first, second)]  # type: ignore[index]
    assert ids[0] == ids[1], "one stored conversation for the dialog"
    stored = await client.get("/v1/messages", params={"conversation_id": ids[0], "user": user})
    assert [m["query"] for m in stored.json()["data"]] == [ORDER_QUESTION, "退货要扣多少运费?"]

    # The same dialog again (a regenerated answer): the conversation has moved on, so the
    # state is rebuilt from the messages in a new one, with the same answer.
    again = await sdk.chat.completions.create(model="demo-shop", messages=dialog, user=user)
    assert again.choices[0].message.content == answer
    assert again.model_extra["kefu"]["conversation_id"] != ids[0]  # type: ignore[index]


async def test_a_dialog_kefu_never_saw_is_rebuilt(
    sdk: AsyncOpenAI, client: httpx.AsyncClient, user: str
) -> None:
    """After a restart or on another replica: the earlier customer messages are replayed
    (understanding and routing only) into a new conversation; the trace says so."""
    completion = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[
            {"role": "assistant", "content": "您好，有什么可以帮您？"},
            {"role": "user", "content": ORDER_QUESTION},
            {"role": "assistant", "content": "好的，请告诉我订单号。"},
            {"role": "tool", "content": "ignored", "tool_call_id": "x"},
            {"role": "user", "content": "退货要扣多少运费?"},
        ],
        user=user,
    )
    answer = completion.choices[0].message.content or ""
    assert "12" in answer and "订单号" in answer
    message_id = completion.model_extra["kefu"]["message_id"]  # type: ignore[index]
    trace = await client.get(
        f"/admin/messages/{message_id}/trace", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    stage = next(s for s in trace.json()["stages"] if s["name"] == "transcript")
    assert (stage["turns"], stage["replayed"], stage["continued"]) == (2, 1, False)


async def test_without_history_the_side_question_is_just_answered(
    sdk: AsyncOpenAI, user: str
) -> None:
    """The check above can fail: without the earlier messages there is no reminder."""
    completion = await sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": "退货要扣多少运费?"}], user=user
    )
    answer = completion.choices[0].message.content or ""
    assert "12" in answer and "订单号" not in answer


async def test_sampling_reaches_the_model(llm_runtime: Runtime, llm_sdk: AsyncOpenAI) -> None:
    model = scripted(llm_runtime, ScriptedReply(("拒收运费由顾客承担 [1]。",)))
    await llm_sdk.chat.completions.create(
        model="demo-shop",
        messages=[{"role": "user", "content": "拒收的话运费谁出"}],
        temperature=0.9,
        top_p=0.5,
        max_tokens=64,
        stop=["。"],
    )
    sampling = model.samplings[-1]
    assert (sampling.temperature, sampling.top_p, sampling.max_tokens) == (0.9, 0.5, 64)
    assert sampling.stop == ["。"]

    app_sampling = llm_runtime.apps.get("demo-shop").config.llm.sampling
    scripted(llm_runtime, ScriptedReply(("好的 [1]。",)))
    await llm_sdk.chat.completions.create(
        model="demo-shop",
        messages=[{"role": "user", "content": "拒收的话运费谁出"}],
        max_completion_tokens=100_000,  # more than the operator allows: the app's ceiling
    )
    model = llm_runtime.apps.get("demo-shop").model
    assert isinstance(model, ScriptedChatModel)
    (sampling,) = model.samplings
    assert sampling.max_tokens == app_sampling.max_tokens
    assert sampling.temperature == app_sampling.temperature  # unset: the app's


async def test_finish_reason_and_usage_of_a_generated_answer(
    llm_runtime: Runtime, llm_sdk: AsyncOpenAI
) -> None:
    cut = ScriptedReply(("非质量问题拒收的，", "按七天无理由"), finish_reason="length")
    model = scripted(llm_runtime, cut)
    blocking = await llm_sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": "拒收的话运费谁出"}]
    )
    assert blocking.choices[0].finish_reason == "length"
    assert blocking.choices[0].message.content == "非质量问题拒收的，按七天无理由"
    prompt = sum(len(m.content) for m in model.calls[-1])  # what the scripted model counts
    assert blocking.usage is not None
    assert (blocking.usage.prompt_tokens, blocking.usage.completion_tokens) == (prompt, 15)
    assert blocking.usage.total_tokens == prompt + 15

    scripted(llm_runtime, cut)
    stream = await llm_sdk.chat.completions.create(
        model="demo-shop",
        messages=[{"role": "user", "content": "拒收的话运费谁出"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    finishes, usage = [], None
    async for chunk in stream:
        usage = chunk.usage or usage
        finishes += [c.finish_reason for c in chunk.choices if c.finish_reason]
    assert finishes == ["length"]
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (prompt, 15)

    scripted(llm_runtime, ScriptedReply(("按七天无理由退货处理 [1]。",)))
    whole = await llm_sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": "拒收的话运费谁出"}]
    )
    assert whole.choices[0].finish_reason == "stop"


async def test_the_model_sees_the_clients_history(
    llm_runtime: Runtime, llm_sdk: AsyncOpenAI
) -> None:
    model = scripted(
        llm_runtime,
        ScriptedReply(("拒收的话运费谁出？",)),  # the follow-up rewritten for retrieval
        ScriptedReply(("拒收的运费从退款中扣除 [1]。",)),
    )
    completion = await llm_sdk.chat.completions.create(
        model="demo-shop",
        messages=[
            {"role": "user", "content": "我想拒收一个包裹"},
            {"role": "assistant", "content": "可以拒收，快递员会把包裹退回。"},
            {"role": "user", "content": "那运费谁出"},
        ],
    )
    assert completion.choices[0].message.content == "拒收的运费从退款中扣除 [1]。"
    rewrite, generate = model.calls
    assert "我想拒收一个包裹" in rewrite[-1].content
    said = [(m.role, m.content) for m in generate[1:]]
    assert said == [
        ("user", "我想拒收一个包裹"),
        ("assistant", "可以拒收，快递员会把包裹退回。"),
        ("user", "那运费谁出"),
    ]
