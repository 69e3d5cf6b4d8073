"""Conversations, history paging, rename, delete, feedback, and who may see what."""

from __future__ import annotations

import httpx

from kefu.services.runtime import Runtime

CHAT = "/v1/chat-messages"


async def ask(client: httpx.AsyncClient, user: str, query: str, conversation_id: str = "") -> dict:
    response = await client.post(
        CHAT,
        json={
            "query": query,
            "user": user,
            "response_mode": "blocking",
            "conversation_id": conversation_id,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_list_rename_delete(client: httpx.AsyncClient, user: str) -> None:
    first = await ask(client, user, "订单多久发货?")
    second = await ask(client, user, "How long does shipping take?")
    listing = (await client.get("/v1/conversations", params={"user": user})).json()
    assert [c["id"] for c in listing["data"]] == [
        second["conversation_id"],
        first["conversation_id"],
    ]
    assert listing["data"][1]["name"] == "订单多久发货?"
    assert listing["has_more"] is False

    page = (await client.get("/v1/conversations", params={"user": user, "limit": 1})).json()
    assert page["has_more"] is True and len(page["data"]) == 1
    rest = (
        await client.get(
            "/v1/conversations", params={"user": user, "limit": 1, "last_id": page["data"][0]["id"]}
        )
    ).json()
    assert [c["id"] for c in rest["data"]] == [first["conversation_id"]]

    renamed = await client.post(
        f"/v1/conversations/{first['conversation_id']}/name", json={"user": user, "name": "发货"}
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "发货"
    auto = await client.post(
        f"/v1/conversations/{first['conversation_id']}/name",
        json={"user": user, "auto_generate": True},
    )
    assert auto.json()["name"] == "订单多久发货?"

    deleted = await client.request(
        "DELETE", f"/v1/conversations/{first['conversation_id']}", json={"user": user}
    )
    assert deleted.status_code == 200 and deleted.json() == {"result": "success"}
    after = (await client.get("/v1/conversations", params={"user": user})).json()
    assert [c["id"] for c in after["data"]] == [second["conversation_id"]]
    gone = await client.get(
        "/v1/messages", params={"conversation_id": first["conversation_id"], "user": user}
    )
    assert gone.status_code == 404
    again = await client.request(
        "DELETE", f"/v1/conversations/{first['conversation_id']}", json={"user": user}
    )
    assert again.status_code == 404


async def test_history_pages_backwards_with_first_id(client: httpx.AsyncClient, user: str) -> None:
    conversation_id = ""
    ids = []
    for query in [
        "订单多久发货",
        "退货要扣多少运费",
        "怎么开发票",
        "支持货到付款吗",
        "会员等级怎么升级",
    ]:
        answer = await ask(client, user, query, conversation_id)
        conversation_id = answer["conversation_id"]
        ids.append(answer["message_id"])
    latest = (
        await client.get(
            "/v1/messages", params={"conversation_id": conversation_id, "user": user, "limit": 2}
        )
    ).json()
    assert [m["id"] for m in latest["data"]] == ids[3:]
    assert latest["has_more"] is True
    older = (
        await client.get(
            "/v1/messages",
            params={
                "conversation_id": conversation_id,
                "user": user,
                "limit": 2,
                "first_id": latest["data"][0]["id"],
            },
        )
    ).json()
    assert [m["id"] for m in older["data"]] == ids[1:3]
    oldest = (
        await client.get(
            "/v1/messages",
            params={
                "conversation_id": conversation_id,
                "user": user,
                "limit": 2,
                "first_id": older["data"][0]["id"],
            },
        )
    ).json()
    assert [m["id"] for m in oldest["data"]] == ids[:1]
    assert oldest["has_more"] is False


async def test_feedback_like_dislike_and_withdraw(client: httpx.AsyncClient, user: str) -> None:
    answer = await ask(client, user, "怎么开发票")

    async def rating() -> object:
        history = await client.get(
            "/v1/messages", params={"conversation_id": answer["conversation_id"], "user": user}
        )
        return history.json()["data"][0]["feedback"]

    url = f"/v1/messages/{answer['message_id']}/feedbacks"
    assert (await client.post(url, json={"user": user, "rating": "like"})).json() == {
        "result": "success"
    }
    assert await rating() == {"rating": "like"}
    await client.post(url, json={"user": user, "rating": "dislike", "content": "太慢"})
    assert await rating() == {"rating": "dislike"}
    await client.post(url, json={"user": user, "rating": None})
    assert await rating() is None


async def test_users_never_see_each_others_data(client: httpx.AsyncClient, user: str) -> None:
    mine = await ask(client, user, "订单多久发货")
    other = f"{user}-other"
    assert (await client.get("/v1/conversations", params={"user": other})).json()["data"] == []
    for response in (
        await client.get(
            "/v1/messages", params={"conversation_id": mine["conversation_id"], "user": other}
        ),
        await client.post(
            CHAT, json={"query": "hi", "user": other, "conversation_id": mine["conversation_id"]}
        ),
        await client.post(
            f"/v1/conversations/{mine['conversation_id']}/name", json={"user": other, "name": "x"}
        ),
        await client.request(
            "DELETE", f"/v1/conversations/{mine['conversation_id']}", json={"user": other}
        ),
        await client.post(
            f"/v1/messages/{mine['message_id']}/feedbacks", json={"user": other, "rating": "like"}
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    still = await client.get(
        "/v1/messages", params={"conversation_id": mine["conversation_id"], "user": user}
    )
    assert len(still.json()["data"]) == 1


async def test_app_key_never_reaches_another_app(
    client: httpx.AsyncClient, runtime: Runtime, tiny_key: str, user: str
) -> None:
    mine = await ask(client, user, "订单多久发货")
    tiny = {"Authorization": f"Bearer {tiny_key}"}
    listing = await client.get("/v1/conversations", params={"user": user}, headers=tiny)
    assert listing.json()["data"] == []
    history = await client.get(
        "/v1/messages",
        params={"conversation_id": mine["conversation_id"], "user": user},
        headers=tiny,
    )
    assert history.status_code == 404
    tiny_answer = await client.post(
        CHAT,
        json={"query": "When are you open?", "user": user, "response_mode": "blocking"},
        headers=tiny,
    )
    assert tiny_answer.json()["answer"] == "We are open 9:00-18:00, Monday to Friday."
    cross = await client.post(
        CHAT,
        headers=tiny,
        json={"query": "hi", "user": user, "conversation_id": mine["conversation_id"]},
    )
    assert cross.status_code == 404


async def test_parameters_meta_info(client: httpx.AsyncClient) -> None:
    parameters = (await client.get("/v1/parameters")).json()
    assert parameters["opening_statement"].startswith("您好")
    assert "订单多久发货？" in parameters["suggested_questions"]
    assert parameters["retriever_resource"] == {"enabled": True}
    assert (await client.get("/v1/meta")).json() == {"tool_icons": {}}
    assert (await client.get("/v1/info")).json()["name"] == "小铺优选 客服"
