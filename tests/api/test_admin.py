"""Admin API: every message's trace is readable; app keys cannot use it."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_KEY

PASSAGE_QUESTION = "刻字的商品多久发货"  # no FAQ entry answers it; 《配送政策》 does
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_trace_shows_route_stages_and_scores(client: httpx.AsyncClient, user: str) -> None:
    answer = (
        await client.post(
            "/v1/chat-messages",
            json={"query": "退货要扣多少运费?", "user": user, "response_mode": "blocking"},
        )
    ).json()
    response = await client.get(f"/admin/messages/{answer['message_id']}/trace", headers=ADMIN)
    assert response.status_code == 200
    trace = response.json()
    assert trace["route"] == "faq"
    assert len(trace["trace_id"]) == 32
    # ``retrieve`` (inside route): the query's vector from the default multilingual encoder
    assert [s["name"] for s in trace["stages"]] == [
        "input_guard",
        "understand",
        "route",
        "retrieve",
        "plan",
        "output_guard",
    ]
    assert all(s["duration_ms"] >= 0 for s in trace["stages"])
    route = trace["stages"][2]
    top = route["faq_candidates"][0]
    assert top["id"] == answer["metadata"]["retriever_resources"][0]["segment_id"]
    assert top["relevance"] >= route["faq_threshold"]


async def test_passage_trace_lists_chunks(client: httpx.AsyncClient, user: str) -> None:
    body = {"query": PASSAGE_QUESTION, "user": user, "response_mode": "blocking"}
    answer = (await client.post("/v1/chat-messages", json=body)).json()
    trace = (
        await client.get(f"/admin/messages/{answer['message_id']}/trace", headers=ADMIN)
    ).json()
    assert trace["route"] == "passage"
    route = trace["stages"][2]
    assert route["faq_candidates"][0]["relevance"] < route["faq_threshold"]
    best = route["passage_candidates"][0]
    assert best["relevance"] >= route["passage_threshold"]
    assert best["chunk_id"] == answer["metadata"]["retriever_resources"][0]["segment_id"]
    assert best["document"] == "配送政策"


async def test_admin_refuses_app_keys_and_unknown_messages(client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/apps")).status_code == 401
    assert (await client.get("/admin/apps", headers=ADMIN)).status_code == 200
    missing = await client.get("/admin/messages/nope/trace", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_documents_listed(client: httpx.AsyncClient) -> None:
    docs = (await client.get("/admin/apps/demo-shop/documents", headers=ADMIN)).json()["data"]
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["document", "faq"]
    assert sum(d["items"] for d in docs if d["kind"] == "faq") >= 40
