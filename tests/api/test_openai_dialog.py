"""Stateless OpenAI clients hold dialogs with the demo shop: the history is in ``messages``.

The customer says their order has not shipped → the bot asks for the number → the client
sends the whole dialog with the number → the bot answers from the shop. No conversation id
is ever sent, as no OpenAI client sends one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from kefu_demo_shop import ShopConfigError, find_source
from tests.conftest import ADMIN_KEY, DEMO_KEY
from tests.demo_shop.server import running_demo_shop

pytestmark = pytest.mark.integration

ORDER_QUESTION = "我的订单还没发货,能查一下吗?"
ASKED = "好的，请提供您的订单号（以 # 开头，例如 #W1234567）。"


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """A demo shop of this module's own per database backend: its orders change, and each
    backend's run of a test starts from the same orders."""
    try:
        find_source()
    except ShopConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent (shared/data/tau2_retail/db.json): {exc}")
    with ExitStack() as running:
        urls: dict[str, str] = {}

        def shop_for(backend: str) -> str:
            if backend not in urls:
                data_dir: Path = tmp_path_factory.mktemp(f"openai-dialog-shop-{backend}")
                urls[backend] = running.enter_context(running_demo_shop(data_dir))
            return urls[backend]

        yield shop_for


@pytest.fixture
def shop(shops: Callable[[str], str], db_backend: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """This backend's shop; the demo app's tools read KEFU_DEMO_SHOP_URL at each call."""
    url = shops(db_backend)
    monkeypatch.setenv("KEFU_DEMO_SHOP_URL", url)
    return url


@pytest.fixture
def sdk(client: httpx.AsyncClient, shop: str) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=DEMO_KEY, base_url="http://kefu.test/v1", http_client=client, max_retries=0
    )


def said(completion: ChatCompletion) -> str:
    return completion.choices[0].message.content or ""


def conversation(completion: ChatCompletion) -> str:
    return str(completion.model_extra["kefu"]["conversation_id"])  # type: ignore[index]


async def trace_of(client: httpx.AsyncClient, completion: ChatCompletion) -> dict:
    message_id = completion.model_extra["kefu"]["message_id"]  # type: ignore[index]
    response = await client.get(
        f"/admin/messages/{message_id}/trace", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    return dict(response.json())


async def test_order_status_over_stateless_requests(
    sdk: AsyncOpenAI, client: httpx.AsyncClient, user: str
) -> None:
    first = await sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": ORDER_QUESTION}], user=user
    )
    assert "订单号" in said(first)
    second = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[
            {"role": "user", "content": ORDER_QUESTION},
            {"role": "assistant", "content": said(first)},
            {"role": "user", "content": "#W2378156"},
        ],
        user=user,
    )
    answer = said(second)
    assert "#W2378156" in answer and "已签收" in answer and "843053632392" in answer
    assert second.choices[0].finish_reason == "stop"
    assert conversation(second) == conversation(first)  # one stored conversation
    (call,) = (await trace_of(client, second))["tool_calls"]
    assert call["tool"] == "get_order" and call["outcome"] == "ok"


async def test_streamed_answer_to_a_dialog_kefu_never_saw(
    sdk: AsyncOpenAI, client: httpx.AsyncClient, user: str
) -> None:
    """A restart, another replica or a client that kept the dialog elsewhere: the flow is
    rebuilt from the customer's messages and the answer streams as usual."""
    stream = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": ORDER_QUESTION},
            {"role": "assistant", "content": ASKED},
            {"role": "user", "content": "#W2378156"},
        ],
        user=user,
        stream=True,
    )
    pieces, finishes, last = [], [], None
    async for chunk in stream:
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finishes += [choice.finish_reason] if choice.finish_reason else []
        last = chunk
    answer = "".join(pieces)
    assert "已签收" in answer and "843053632392" in answer
    assert finishes == ["stop"]
    message_id = last.model_extra["kefu"]["message_id"]  # type: ignore[union-attr,index]
    trace = await client.get(
        f"/admin/messages/{message_id}/trace", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    stage = next(s for s in trace.json()["stages"] if s["name"] == "transcript")
    assert (stage["turns"], stage["replayed"], stage["continued"]) == (1, 1, False)


async def test_the_kefu_extension_still_continues_a_stored_conversation(
    sdk: AsyncOpenAI, user: str
) -> None:
    first = await sdk.chat.completions.create(
        model="demo-shop", messages=[{"role": "user", "content": ORDER_QUESTION}], user=user
    )
    second = await sdk.chat.completions.create(
        model="demo-shop",
        messages=[{"role": "user", "content": "#W2378156"}],
        user=user,
        extra_body={"conversation_id": conversation(first)},
    )
    assert "已签收" in said(second) and conversation(second) == conversation(first)


async def test_replaying_a_dialog_never_repeats_its_actions(
    sdk: AsyncOpenAI, client: httpx.AsyncClient, shop: str, user: str
) -> None:
    """A cancellation the client says was confirmed is not carried out again by the
    replay; one confirmed now is carried out once."""
    asked_email = "为了核实身份，请提供下单时使用的邮箱。"
    confirm = "确认要取消订单 #W7017301 吗？请回复“是”或“否”。"
    dialog: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "我要取消订单 #W7017301，不想要了"},
        {"role": "assistant", "content": asked_email},
        {"role": "user", "content": "mei.martin4637@example.com"},
        {"role": "assistant", "content": confirm},
        {"role": "user", "content": "是的"},
        {"role": "assistant", "content": "订单 #W7017301 已取消。"},
        {"role": "user", "content": "谢谢"},
    ]
    thanked = await sdk.chat.completions.create(model="demo-shop", messages=dialog, user=user)
    assert "tool_calls" not in await trace_of(client, thanked)
    async with httpx.AsyncClient(base_url=shop) as http:
        assert (await http.get("/orders/W7017301")).json()["status"] == "pending"

        confirmed = await sdk.chat.completions.create(
            model="demo-shop", messages=dialog[:5], user=user + "-2"
        )
        assert "取消" in said(confirmed)
        (call,) = (await trace_of(client, confirmed))["tool_calls"]
        assert call["tool"] == "cancel_order" and call["outcome"] == "ok"
        order = (await http.get("/orders/W7017301")).json()
    assert order["status"] == "cancelled"
