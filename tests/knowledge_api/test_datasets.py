"""Datasets through the knowledge API: the default one, created ones, keys and errors."""

from __future__ import annotations

import httpx

from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY
from tests.knowledge_api.conftest import new_dataset
from tests.servers import in_process_client


async def test_the_default_dataset_holds_the_apps_own_knowledge(
    kb: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    app = kb_runtime.apps.get("tiny")
    listed = (await kb.get("/v1/datasets")).json()
    assert listed["total"] == 1 and listed["page"] == 1 and not listed["has_more"]
    default = listed["data"][0]
    assert default["id"] == app.id and default["name"] == "tiny" and default["is_default"]
    assert default["document_count"] == 2  # faq.jsonl and warranty.md from tiny.yaml
    # the default embedder (the multilingual encoder) is on: hybrid
    assert default["indexing_technique"] == "high_quality"
    assert default["retrieval_model_dict"]["search_method"] == "hybrid_search"
    # Dify's one threshold per dataset: the app's passage threshold in its own language
    # (calibrated per language at index build unless the app file sets one)
    threshold = default["retrieval_model_dict"]["score_threshold"]
    assert threshold == app.passage_threshold(app.config.language)
    documents = (await kb.get(f"/v1/datasets/{app.id}/documents")).json()
    names = {d["name"]: d for d in documents["data"]}
    assert set(names) == {"faq.jsonl", "Warranty Policy"}
    assert names["faq.jsonl"]["doc_form"] == "qa_model"
    assert names["faq.jsonl"]["created_from"] == "config"
    assert all(d["indexing_status"] == "completed" for d in documents["data"])


async def test_create_list_page_and_delete_datasets(kb: httpx.AsyncClient) -> None:
    first = await new_dataset(kb, "policies")
    second = await new_dataset(kb, "manuals")
    page1 = (await kb.get("/v1/datasets", params={"page": 1, "limit": 2})).json()
    page2 = (await kb.get("/v1/datasets", params={"page": 2, "limit": 2})).json()
    assert page1["total"] == page2["total"] == 3
    assert page1["has_more"] and not page2["has_more"]
    ids = [d["id"] for d in page1["data"] + page2["data"]]
    assert ids[0] != first and set(ids[1:]) == {first, second}  # default first, then newest
    one = (await kb.get(f"/v1/datasets/{first}")).json()
    assert one["name"] == "policies" and one["document_count"] == 0 and not one["is_default"]

    assert (await kb.delete(f"/v1/datasets/{first}")).status_code == 204
    gone = await kb.get(f"/v1/datasets/{first}")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert (await kb.get("/v1/datasets")).json()["total"] == 2


async def test_dataset_errors(kb: httpx.AsyncClient, kb_runtime: Runtime) -> None:
    app_id = kb_runtime.apps.get("tiny").id
    await new_dataset(kb, "policies")
    duplicate = await kb.post("/v1/datasets", json={"name": "policies"})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"
    default_name = await kb.post("/v1/datasets", json={"name": "tiny"})
    assert default_name.status_code == 400
    undeletable = await kb.delete(f"/v1/datasets/{app_id}")
    assert undeletable.status_code == 403 and "default dataset" in undeletable.json()["message"]
    for path in ("/v1/datasets/nope", "/v1/datasets/0190f0f0-0000-7000-8000-000000000000"):
        missing = await kb.get(path)
        assert missing.status_code == 404, path
    assert (await kb.post("/v1/datasets", json={})).status_code == 400


async def test_only_a_dataset_key_manages_knowledge(
    kb: httpx.AsyncClient, service: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    refused = await service.get("/v1/datasets")  # an app key
    assert refused.status_code == 403 and "dataset key" in refused.json()["message"]
    web_token, _ = kb_runtime.sessions.issue("tiny")  # a page session
    web = await kb.get("/v1/datasets", headers={"Authorization": f"Bearer {web_token}"})
    assert web.status_code == 403
    unknown = await kb.get("/v1/datasets", headers={"Authorization": "Bearer dataset-nope"})
    assert unknown.status_code == 401 and unknown.json()["code"] == "unauthorized"
    missing = await kb.get("/v1/datasets", headers={"Authorization": ""})
    assert missing.status_code == 401
    chat = await kb.post("/v1/chat-messages", json={"query": "hi", "user": "u"})
    assert chat.status_code == 403  # and a dataset key cannot chat


async def test_admin_creates_a_dataset_key(kb_runtime: Runtime, tmp_path: object) -> None:
    async with in_process_client(kb_runtime) as http:
        created = await http.post(
            "/admin/apps/tiny/keys",
            json={"kind": "dataset"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert created.status_code == 201
        key = created.json()["key"]
        assert key.startswith("dataset-")
        listed = await http.get("/v1/datasets", headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200 and listed.json()["data"][0]["name"] == "tiny"
