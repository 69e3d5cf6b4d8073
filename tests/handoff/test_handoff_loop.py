"""The whole hand-over loop through the HTTP APIs of a real server: the customer asks for a
human → pending → an agent claims → replies (the customer hears it live) → resolves → the
customer rates the agent → the bot answers again, remembering what the agent said."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx

from kefu.handoff.webhooks import verify
from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY
from tests.handoff.conftest import WEBHOOK_SECRET
from tests.handoff.receiver import Receiver
from tests.sse import parse_sse

HOURS = "What are your opening hours?"


async def listen(http: httpx.AsyncClient, url: str, params: dict[str, str],
                 events: asyncio.Queue[dict[str, Any]]) -> None:  # fmt: skip
    async with http.stream("GET", url, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                await events.put(json.loads(line[5:]))


async def test_customer_agent_and_bot_take_turns(
    served_desk: str, desk_key: str, receiver: Receiver, desk_runtime: Runtime
) -> None:
    user = "loop-customer"
    app_auth = {"Authorization": f"Bearer {desk_key}"}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=served_desk, timeout=10, headers=app_auth) as http:

        async def ask(query: str, conversation_id: str = "") -> dict[str, Any]:
            response = await http.post("/v1/chat-messages", json={
                "query": query, "user": user, "response_mode": "blocking",
                "conversation_id": conversation_id,
            })  # fmt: skip
            assert response.status_code == 200, response.text
            return dict(response.json())

        first = await ask(HOURS)
        cid = first["conversation_id"]
        assert "9:00" in first["answer"] and first["metadata"]["handoff_state"] == "bot"

        asked = await ask("转人工", cid)
        assert asked["answer"] == "正在为您转接人工客服，请稍候。"
        assert asked["metadata"]["handoff_state"] == "pending_human"
        listed = (await http.get("/v1/conversations", params={"user": user})).json()["data"]
        assert listed[0]["handoff_state"] == "pending_human"
        handoff = receiver.wait_for("handoff")[-1]
        assert verify(WEBHOOK_SECRET, handoff.body, handoff.headers["x-kefu-signature"])
        assert handoff.json["data"]["reason"] == "customer_request"
        assert handoff.json["data"]["note"]["last_turns"][-1]["query"] == "转人工"

        waiting = await ask("我的订单一直没到，很着急", cid)
        assert waiting["answer"] == "" and waiting["metadata"]["handoff_state"] == "pending_human"
        assert receiver.wait_for("message")[-1].json["data"]["query"] == "我的订单一直没到，很着急"

        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        stream = asyncio.create_task(
            listen(http, f"/v1/conversations/{cid}/events", {"user": user}, events)
        )
        try:
            now = await asyncio.wait_for(events.get(), 5)
            assert (now["event"], now["handoff_state"]) == ("handoff_state", "pending_human")

            created = await http.post(
                "/admin/agents", json={"name": "小王", "apps": ["*"]}, headers=admin
            )
            agent = {"Authorization": f"Bearer {created.json()['key']}"}
            inbox = (await http.get("/v1/agent/inbox", headers=agent)).json()["data"]
            mine = next(i for i in inbox if i["conversation_id"] == cid)
            assert mine["handoff_state"] == "pending_human" and mine["user"] == user
            assert mine["last_query"] == "我的订单一直没到，很着急"

            claimed = await http.post(f"/v1/agent/conversations/{cid}/claim", headers=agent)
            assert claimed.json()["handoff_state"] == "human"
            state = await asyncio.wait_for(events.get(), 5)
            assert state["handoff_state"] == "human" and state["agent"]["name"] == "小王"

            reply = await http.post(
                f"/v1/agent/conversations/{cid}/reply",
                json={"text": "您好，我是小王，马上帮您查快递。"},
                headers=agent,
            )
            assert reply.status_code == 200, reply.text
            heard = await asyncio.wait_for(events.get(), 5)
            assert heard["event"] == "agent_message"
            assert heard["answer"] == "您好，我是小王，马上帮您查快递。"
            assert heard["agent"]["name"] == "小王"
            assert receiver.wait_for("reply")[-1].json["data"]["text"].startswith("您好，我是小王")

            resolved = await http.post(f"/v1/agent/conversations/{cid}/resolve", headers=agent)
            assert resolved.json()["handoff_state"] == "resolved"
            done = await asyncio.wait_for(events.get(), 5)
            assert done["handoff_state"] == "resolved" and "1-5" in done["csat"]["question"]
            assert receiver.wait_for("resolve")
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream

        history = (
            await http.get("/v1/messages", params={"conversation_id": cid, "user": user})
        ).json()["data"]
        assert [(m["query"], m["answer"], m["agent"]) for m in history[2:]] == [
            ("我的订单一直没到，很着急", "", None),
            ("", "您好，我是小王，马上帮您查快递。", {"id": claimed.json()["assigned_agent_id"],
                                                    "name": "小王"}),
        ]  # fmt: skip

        rated = await http.post(
            f"/v1/conversations/{cid}/csat", json={"user": user, "rating": 5, "comment": "快"}
        )
        assert rated.status_code == 200, rated.text
        ratings = (await http.get("/admin/csat", headers=admin)).json()["data"]
        assert (
            ratings[0]["rating"] == 5
            and ratings[0]["agent_id"] == claimed.json()["assigned_agent_id"]
        )

        again = await ask(HOURS, cid)
        assert "9:00" in again["answer"] and again["metadata"]["handoff_state"] == "bot"
        listed = (await http.get("/v1/conversations", params={"user": user})).json()["data"]
        assert listed[0]["handoff_state"] == "bot"
    memory = desk_runtime.store.conversations.recent_messages(cid, 10)
    assert "您好，我是小王，马上帮您查快递。" in [m.answer for m in memory]


async def test_a_streaming_client_gets_an_empty_answer_while_a_human_owns_it(
    desk: Any,
) -> None:
    first = await desk.ask("stream-user", "转人工")
    response = await desk.http.post(
        "/v1/chat-messages",
        json={"query": "还在吗", "user": "stream-user", "response_mode": "streaming",
              "conversation_id": first["conversation_id"]},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )  # fmt: skip
    events = [data for name, data in parse_sse(response.text) if name == "message"]
    assert [(e["event"], e.get("answer")) for e in events] == [
        ("message", ""),
        ("message_end", None),
    ]
    assert events[-1]["metadata"]["handoff_state"] == "pending_human"
