"""The official OpenAI SDK (sync client, its own HTTP stack) against `kefu serve --demo`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from tests.servers import KEY, running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    data_dir: Path = tmp_path_factory.mktemp("openai-sdk") / "data"
    with (
        running_server(data_dir) as base_url,
        OpenAI(api_key=KEY, base_url=f"{base_url}/v1", max_retries=0) as client,
    ):
        yield client


def test_models_then_a_streamed_dialog(sdk: OpenAI) -> None:
    """What an OpenAI chat UI does: list the models, then stream, resending the dialog."""
    (model,) = sdk.models.list().data
    assert model.id == "demo-shop"
    first = sdk.chat.completions.create(
        model=model.id,
        messages=[{"role": "user", "content": "我的订单还没发货,能查一下吗?"}],
        user="ui-user",
    )
    asked = first.choices[0].message.content or ""
    assert "订单号" in asked
    stream = sdk.chat.completions.create(
        model=model.id,
        messages=[
            {"role": "user", "content": "我的订单还没发货,能查一下吗?"},
            {"role": "assistant", "content": asked},
            {"role": "user", "content": "退货要扣多少运费?"},
        ],
        user="ui-user",
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finishes, usage = [], [], None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finishes += [choice.finish_reason] if choice.finish_reason else []
    answer = "".join(pieces)
    assert "12" in answer and "订单号" in answer  # the FAQ answer, then the flow's reminder
    assert finishes == ["stop"] and usage is not None and usage.total_tokens == 0


def test_errors_raise_the_sdks_exceptions(sdk: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        sdk.with_options(api_key="app-wrong").models.list()
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(
            model="demo-shop", messages=[{"role": "user", "content": "hi"}], top_p=0
        )
    assert bad.value.param == "top_p"
