"""POST /v1/chat-messages: blocking and streaming shapes, sources, continuation, storage."""

from __future__ import annotations

import httpx

from tests.sse import parse_sse

CHAT = "/v1/chat-messages"


def chat_body(query: str, user: str, **extra: object) -> dict[str, object]:
    return {"query": query, "user": user, "inputs": {}, "response_mode": "blocking", **extra}


async def test_blocking_answer_has_dify_shape_and_sources(
    client: httpx.AsyncClient, user: str
) -> None:
    response = await client.post(CHAT, json=chat_body("订单多久发货?", user))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "event",
        "task_id",
        "id",
        "message_id",
        "conversation_id",
        "mode",
        "answer",
        "metadata",
        "created_at",
    }
    assert body["event"] == "message" and body["mode"] == "chat"
    assert body["id"] == body["message_id"]
    assert "48小时" in body["answer"] or "48 小时" in body["answer"]
    resources = body["metadata"]["retriever_resources"]
    assert resources and resources[0]["position"] == 1
    assert set(resources[0]) == {
        "position",
        "dataset_id",
        "dataset_name",
        "document_id",
        "document_name",
        "segment_id",
        "score",
        "content",
    }
    usage = body["metadata"]["usage"]
    assert usage["total_tokens"] == 0 and usage["latency"] >= 0


async def test_streaming_event_sequence_is_exact(client: httpx.AsyncClient, user: str) -> None:
    blocking = (await client.post(CHAT, json=chat_body("退货要扣多少运费?", user))).json()
    response = await client.post(
        CHAT, json=chat_body("退货要扣多少运费?", user, response_mode="streaming")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [data["event"] for _, data in events]
    assert names[-1] == "message_end"
    assert set(names[:-1]) == {"message"} and len(names) >= 2
    first = events[0][1]
    ids = {(d["task_id"], d["message_id"], d["conversation_id"]) for _, d in events}
    assert len(ids) == 1, "every event names the same task, message and conversation"
    streamed = "".join(d["answer"] for _, d in events[:-1])
    assert streamed == blocking["answer"]
    end = events[-1][1]
    assert end["metadata"]["retriever_resources"] == blocking["metadata"]["retriever_resources"]
    assert isinstance(first["created_at"], int)


async def test_conversation_continues_and_history_is_stored(
    client: httpx.AsyncClient, user: str
) -> None:
    first = (await client.post(CHAT, json=chat_body("How long does shipping take?", user))).json()
    conversation_id = first["conversation_id"]
    second = (
        await client.post(
            CHAT, json=chat_body("怎么修改收货地址", user, conversation_id=conversation_id)
        )
    ).json()
    assert second["conversation_id"] == conversation_id
    history = await client.get(
        "/v1/messages", params={"conversation_id": conversation_id, "user": user}
    )
    assert history.status_code == 200
    data = history.json()["data"]
    assert [m["id"] for m in data] == [first["message_id"], second["message_id"]]
    assert data[0]["query"] == "How long does shipping take?"
    assert data[0]["answer"] == first["answer"]
    assert data[0]["retriever_resources"] == first["metadata"]["retriever_resources"]


async def test_streamed_turn_is_stored(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post(
        CHAT, json=chat_body("会员等级怎么升级", user, response_mode="streaming")
    )
    events = [d for _, d in parse_sse(response.text)]
    answer = "".join(d["answer"] for d in events if d["event"] == "message")
    history = await client.get(
        "/v1/messages", params={"conversation_id": events[0]["conversation_id"], "user": user}
    )
    assert [m["answer"] for m in history.json()["data"]] == [answer]


async def test_unknown_question_gets_fallback_without_sources(
    client: httpx.AsyncClient, user: str
) -> None:
    body = (await client.post(CHAT, json=chat_body("火星上的天气怎么样", user))).json()
    assert "人工" in body["answer"]
    assert body["metadata"]["retriever_resources"] == []


async def test_english_fallback_for_english_question(client: httpx.AsyncClient, user: str) -> None:
    body = (await client.post(CHAT, json=chat_body("What is the capital of France?", user))).json()
    assert body["answer"].startswith("Sorry")


async def test_stop_unknown_task_is_success(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post("/v1/chat-messages/no-such-task/stop", json={"user": user})
    assert response.status_code == 200
    assert response.json() == {"result": "success"}
