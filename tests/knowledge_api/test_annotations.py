"""Annotations: curated answers that, once annotation reply is on, answer before anything."""

from __future__ import annotations

from typing import Any

import httpx

from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY

HOURS = "What are your opening hours?"  # an FAQ question of the tiny app


async def ask(service: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await service.post(
        "/v1/chat-messages", json={"query": query, "user": "u1", "response_mode": "blocking"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def trace(service: httpx.AsyncClient, message_id: str) -> dict[str, Any]:
    response = await service.get(
        f"/admin/messages/{message_id}/trace", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_create_list_update_delete(service: httpx.AsyncClient) -> None:
    created = await service.post(
        "/v1/apps/annotations", json={"question": "Do you repair toasters?", "answer": "No."}
    )
    assert created.status_code == 201, created.text
    annotation = created.json()
    assert annotation["hit_count"] == 0 and annotation["question"] == "Do you repair toasters?"
    await service.post("/v1/apps/annotations", json={"question": "Gift cards?", "answer": "Yes."})
    listed = (await service.get("/v1/apps/annotations", params={"limit": 1})).json()
    assert listed["total"] == 2 and listed["has_more"] and listed["page"] == 1
    assert listed["data"][0]["question"] == "Gift cards?"  # newest first
    found = (await service.get("/v1/apps/annotations", params={"keyword": "toaster"})).json()
    assert [a["id"] for a in found["data"]] == [annotation["id"]]

    updated = await service.put(
        f"/v1/apps/annotations/{annotation['id']}",
        json={"question": "Do you repair toasters?", "answer": "No, kettles only."},
    )
    assert updated.status_code == 200 and updated.json()["answer"] == "No, kettles only."
    assert (await service.delete(f"/v1/apps/annotations/{annotation['id']}")).status_code == 204
    assert (await service.get("/v1/apps/annotations")).json()["total"] == 1

    missing = "0190f0f0-0000-7000-8000-000000000000"
    for response in (
        await service.put(f"/v1/apps/annotations/{missing}", json={"question": "q", "answer": "a"}),
        await service.delete(f"/v1/apps/annotations/{missing}"),
        await service.delete("/v1/apps/annotations/not-an-id"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    empty = await service.post("/v1/apps/annotations", json={"question": " ", "answer": "a"})
    assert empty.status_code == 400


async def test_an_annotation_answers_directly_and_counts_its_hits(
    service: httpx.AsyncClient,
) -> None:
    before = await ask(service, "Do you repair toasters?")  # routed, and cached, as a miss
    curated = "No, we only repair kettles."
    created = await service.post(
        "/v1/apps/annotations", json={"question": "Do you repair toasters?", "answer": curated}
    )
    annotation_id = created.json()["id"]
    assert (await ask(service, "Do you repair toasters?"))["answer"] == before["answer"]  # off

    enabled = await service.post(
        "/v1/apps/annotation-reply/enable",
        json={"score_threshold": 0.8, "embedding_provider_name": "openai",
              "embedding_model_name": "text-embedding-3-small"},
    )  # fmt: skip
    assert enabled.status_code == 200
    job = enabled.json()
    assert job["job_status"] == "completed"
    status = await service.get(f"/v1/apps/annotation-reply/enable/status/{job['job_id']}")
    assert status.json() == {"job_id": job["job_id"], "job_status": "completed", "error_msg": ""}
    wrong = await service.get(f"/v1/apps/annotation-reply/disable/status/{job['job_id']}")
    assert wrong.status_code == 404

    for _ in range(2):  # the second time from the route cache: still counted
        answered = await ask(service, "do you repair toasters")
        assert answered["answer"] == curated
        [source] = answered["metadata"]["retriever_resources"]
        assert source["document_name"] == "annotation" and source["segment_id"] == annotation_id
    seen = await trace(service, answered["message_id"])
    assert seen["route"] == "annotation"
    [route_stage] = [s for s in seen["stages"] if s["name"] == "route"]
    assert route_stage["annotation"]["id"] == annotation_id
    assert route_stage["annotation"]["relevance"] >= 0.8
    assert "faq_candidates" not in route_stage  # answered before any retrieval
    listed = (await service.get("/v1/apps/annotations")).json()["data"]
    assert [a["hit_count"] for a in listed] == [2]

    unrelated = await ask(service, "Is there parking at the store?")
    assert unrelated["answer"] == "Free parking is behind the store."  # the FAQ still answers


async def test_an_annotation_outranks_the_faq_until_reply_is_disabled(
    service: httpx.AsyncClient,
) -> None:
    await service.post("/v1/apps/annotation-reply/enable", json={"score_threshold": 0.9})
    faq_answer = (await ask(service, HOURS))["answer"]  # routed, and cached, as the FAQ
    assert faq_answer.startswith("We are open")
    created = await service.post(
        "/v1/apps/annotations", json={"question": HOURS, "answer": "Closed for renovation."}
    )
    assert (await ask(service, HOURS))["answer"] == "Closed for renovation."
    await service.put(
        f"/v1/apps/annotations/{created.json()['id']}",
        json={"question": HOURS, "answer": "Open again from Monday."},
    )
    assert (await ask(service, HOURS))["answer"] == "Open again from Monday."
    disabled = await service.post("/v1/apps/annotation-reply/disable", json={})
    assert disabled.status_code == 200
    assert (await ask(service, HOURS))["answer"] == faq_answer


async def test_a_weak_match_does_not_answer(service: httpx.AsyncClient) -> None:
    await service.post("/v1/apps/annotation-reply/enable", json={"score_threshold": 0.95})
    await service.post(
        "/v1/apps/annotations",
        json={"question": "Do you repair toasters and kettles on Sundays?", "answer": "Never."},
    )
    answered = await ask(service, "toasters")
    assert answered["answer"] != "Never."
    [route_stage] = [
        s for s in (await trace(service, answered["message_id"]))["stages"] if s["name"] == "route"
    ]
    assert route_stage["annotation"]["relevance"] < 0.95  # recorded, below its threshold


async def test_only_the_app_key_manages_annotations(
    service: httpx.AsyncClient, kb: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    web, _ = kb_runtime.sessions.issue("tiny")  # a page session
    refused = await service.get("/v1/apps/annotations", headers={"Authorization": f"Bearer {web}"})
    assert refused.status_code == 403
    assert (await kb.get("/v1/apps/annotations")).status_code == 403  # a dataset key
    out_of_range = await service.post(
        "/v1/apps/annotation-reply/enable", json={"score_threshold": 2}
    )
    assert out_of_range.status_code == 400
    assert (await service.post("/v1/apps/annotation-reply/toggle", json={})).status_code == 400
