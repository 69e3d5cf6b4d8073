"""An idle conversation ends after the session TTL: the customer's next message starts a new
conversation (fresh dialog state), the old one is listed as ``ended`` and its live listeners
hear ``conversation_ended`` — with the in-process hub and with Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.core.redis_conn import RedisConnection
from kefu.handoff.events import EventHub, InMemoryEventHub
from kefu.handoff.redis_events import RedisEventHub
from kefu.services.runtime import Runtime
from tests.turns import chat as say

TTL_S = 1.0  # long enough that a loaded machine answers the in-TTL message in time


@pytest.fixture(params=["in-memory", "redis"])
async def hub(request: pytest.FixtureRequest) -> AsyncIterator[EventHub]:
    if request.param == "in-memory":
        yield InMemoryEventHub()
        return
    redis_url = request.getfixturevalue("redis_url")
    connection = RedisConnection(redis_url, prefix=f"test-{uuid.uuid4().hex[:12]}:")
    redis_hub = RedisEventHub(connection)
    yield redis_hub
    await redis_hub.aclose()
    connection.close()


async def test_an_idle_conversation_ends_and_the_next_message_starts_a_new_one(
    runtime: Runtime,
    client: httpx.AsyncClient,
    user: str,
    hub: EventHub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime.chat, "session_ttl_s", TTL_S)
    monkeypatch.setattr(runtime.handoff.notify, "hub", hub)
    started = await say(client, user, "我要取消订单")
    old = started["conversation_id"]
    kept = await say(client, user, "我的邮箱是 noah.brown7922@example.com", old)
    assert kept["conversation_id"] == old  # within the TTL: the same conversation
    async with hub.subscribe(old) as events:
        await asyncio.sleep(TTL_S + 0.1)
        after = await say(client, user, "订单号 #W2378156", old)
        ended = await asyncio.wait_for(events.get(), 2)
    assert ended == {"event": "conversation_ended", "conversation_id": old, "reason": "idle"}
    new = after["conversation_id"]
    assert new != old
    # A new conversation: the cancel flow (and its e-mail) is gone, so the bot does not ask
    # for the reason of a cancellation.
    assert "原因" not in after["answer"]
    listed = await client.get("/v1/conversations", params={"user": user})
    statuses = {c["id"]: c["status"] for c in listed.json()["data"]}
    assert statuses == {old: "ended", new: "normal"}
    messages = await client.get("/v1/messages", params={"user": user, "conversation_id": new})
    assert [m["query"] for m in messages.json()["data"]] == ["订单号 #W2378156"]


async def test_without_a_ttl_conversations_never_end(
    runtime: Runtime, client: httpx.AsyncClient, user: str
) -> None:
    assert runtime.chat.session_ttl_s is None  # the default
    old = (await say(client, user, "我要取消订单"))["conversation_id"]
    await asyncio.sleep(0.05)
    assert (await say(client, user, "noah.brown7922@example.com", old))["conversation_id"] == old


async def test_the_app_file_s_ttl_wins(
    runtime: Runtime, client: httpx.AsyncClient, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = runtime.apps.get("demo-shop")
    limits = app.config.limits.model_copy(update={"session_ttl_s": TTL_S})
    monkeypatch.setattr(app, "config", app.config.model_copy(update={"limits": limits}))
    old = (await say(client, user, "我要取消订单"))["conversation_id"]
    await asyncio.sleep(TTL_S + 0.1)
    assert (await say(client, user, "你好", old))["conversation_id"] != old


async def test_a_conversation_a_human_owns_never_expires(
    runtime: Runtime, client: httpx.AsyncClient, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.chat, "session_ttl_s", TTL_S)
    asked = await say(client, user, "转人工")
    assert asked["metadata"]["handoff_state"] == "pending_human"
    await asyncio.sleep(TTL_S + 0.1)
    waiting = await say(client, user, "还在吗", asked["conversation_id"])
    assert waiting["conversation_id"] == asked["conversation_id"]
    assert waiting["metadata"]["handoff_state"] == "pending_human"
