"""Turns of one conversation are serialised: the e-mail and the order number of the demo's
cancel flow, sent at the same moment, are both kept (issue 15's trial: without the lock one
of them was lost in 7 of 8 trials)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.core.ids import end_user_id
from kefu.core.redis_conn import RedisConnection
from kefu.core.redis_locks import RedisTurnLocks
from kefu.services.chat import ChatRequest, ChatService
from kefu.services.runtime import Runtime
from tests.turns import chat as say

TRIALS = 8
EMAIL = "noah.brown7922@example.com"
ORDER = "#W2378156"


class NoLocks:
    """What the chat service did before the turn lock: nothing."""

    @contextlib.asynccontextmanager
    async def lock(
        self, conversation_id: str, timeout_s: float | None = None
    ) -> AsyncIterator[None]:
        yield


async def kept_slots(runtime: Runtime, client: httpx.AsyncClient, user: str) -> set[str]:
    """One trial: start the cancel flow, then send both slots at once; the slots stored."""
    started = await say(client, user, "我要取消订单")
    conversation_id = started["conversation_id"]
    await asyncio.gather(
        say(client, user, f"我的邮箱是 {EMAIL}", conversation_id),
        say(client, user, f"订单号 {ORDER}", conversation_id),
    )
    app = runtime.apps.get("demo-shop")
    stored = runtime.store.conversations.get(app.id, end_user_id(app.id, user), conversation_id)
    assert stored is not None and stored.dialog_state is not None
    active = stored.dialog_state["active"]
    assert active is not None and active["flow"] == "cancel_order"
    return set(active["slots"]) & {"email", "order_id"}


async def trials(runtime: Runtime, client: httpx.AsyncClient, user: str) -> int:
    """How many of the trials lost a slot."""
    lost = 0
    for n in range(TRIALS):
        if await kept_slots(runtime, client, f"{user}-{n}") != {"email", "order_id"}:
            lost += 1
    return lost


async def test_without_the_lock_slots_are_lost(
    runtime: Runtime, client: httpx.AsyncClient, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.chat, "locks", NoLocks())
    lost = await trials(runtime, client, user)
    print(f"without the lock: {lost} of {TRIALS} trials lost a slot")
    assert lost > 0  # the race this lock exists for


async def test_with_the_lock_no_slot_is_lost(
    runtime: Runtime, client: httpx.AsyncClient, user: str
) -> None:
    assert await trials(runtime, client, user) == 0


@pytest.fixture
async def two_replicas(runtime: Runtime, redis_url: str) -> AsyncIterator[tuple[ChatService, ...]]:
    """Two chat services on one store, each with its own Redis connection and its own
    in-process lock (as two replicas have): only Redis can serialise their turns."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    connections = [RedisConnection(redis_url, prefix=prefix) for _ in range(2)]
    locks = [RedisTurnLocks(connection) for connection in connections]
    yield tuple(ChatService(runtime.store, locks=lock) for lock in locks)
    for lock, connection in zip(locks, connections, strict=True):
        await lock.aclose()
        connection.close()


async def test_across_replicas_with_the_redis_lock_no_slot_is_lost(
    runtime: Runtime, two_replicas: tuple[ChatService, ...], user: str
) -> None:
    here, there = two_replicas
    app = runtime.apps.get("demo-shop")

    async def say_to(chat: ChatService, who: str, query: str, conversation_id: str | None) -> str:
        request = ChatRequest(app=app, user=who, query=query, conversation_id=conversation_id)
        return (await chat.answer(await chat.prepare(request))).conversation_id

    lost = 0
    for n in range(TRIALS):
        who = f"{user}-{n}"
        conversation_id = await say_to(here, who, "我要取消订单", None)
        await asyncio.gather(
            say_to(here, who, f"我的邮箱是 {EMAIL}", conversation_id),
            say_to(there, who, f"订单号 {ORDER}", conversation_id),
        )
        stored = runtime.store.conversations.get(app.id, end_user_id(app.id, who), conversation_id)
        assert stored is not None and stored.dialog_state is not None
        if set(stored.dialog_state["active"]["slots"]) & {"email", "order_id"} != {
            "email",
            "order_id",
        }:
            lost += 1
    assert lost == 0
