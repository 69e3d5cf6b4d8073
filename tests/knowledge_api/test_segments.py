"""Segments through the knowledge API: a document's chunks, or an FAQ file's entries."""

from __future__ import annotations

import httpx

from kefu.services.runtime import Runtime
from tests.knowledge_api.conftest import new_dataset, wait_completed

GUIDE = "# Care\n\nDescale the kettle every month with white vinegar."


async def _document(kb: httpx.AsyncClient, dataset: str, name: str, content: bytes) -> str:
    response = await kb.post(
        f"/v1/datasets/{dataset}/document/create-by-file", files={"file": (name, content)}
    )
    assert response.status_code == 200, response.text
    await wait_completed(kb, dataset, response.json()["batch"])
    return str(response.json()["document"]["id"])


async def _retrieve(kb: httpx.AsyncClient, dataset: str, query: str) -> list[str]:
    response = await kb.post(f"/v1/datasets/{dataset}/retrieve", json={"query": query})
    return [r["segment"]["content"] for r in response.json()["records"]]


async def test_chunk_segments_add_update_delete(kb: httpx.AsyncClient, kb_runtime: Runtime) -> None:
    app = kb_runtime.apps.get("tiny")
    dataset = await new_dataset(kb)
    document = await _document(kb, dataset, "care.md", GUIDE.encode())
    base = f"/v1/datasets/{dataset}/documents/{document}/segments"
    listed = (await kb.get(base)).json()
    assert listed["doc_form"] == "text_model" and listed["total"] == 1
    [first] = listed["data"]
    assert first["heading"] == "Care" and first["status"] == "completed"

    added = await kb.post(
        base, json={"segments": [{"content": "Never put the kettle in the dishwasher.",
                                  "keywords": ["dishwasher"]}]},
    )  # fmt: skip
    assert added.status_code == 200, added.text
    [segment] = added.json()["data"]
    assert segment["position"] == 1
    await kb_runtime.datasets.wait_indexed(app)
    assert "Never put the kettle in the dishwasher." in await _retrieve(kb, dataset, "dishwasher")

    updated = await kb.post(
        f"{base}/{segment['id']}",
        json={"segment": {"content": "Hand-wash the kettle; no dishwasher.", "enabled": True}},
    )
    assert updated.status_code == 200 and updated.json()["data"]["id"] == segment["id"]
    await kb_runtime.datasets.wait_indexed(app)
    assert "Hand-wash the kettle; no dishwasher." in await _retrieve(kb, dataset, "dishwasher")

    searched = (await kb.get(base, params={"keyword": "hand-wash"})).json()
    assert [s["id"] for s in searched["data"]] == [segment["id"]]
    assert (await kb.delete(f"{base}/{segment['id']}")).status_code == 204
    await kb_runtime.datasets.wait_indexed(app)
    assert "Hand-wash the kettle; no dishwasher." not in await _retrieve(kb, dataset, "dishwasher")
    assert (await kb.get(base)).json()["total"] == 1


async def test_faq_segments_are_questions_and_answers(
    kb: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    dataset = await new_dataset(kb)
    faq = b'{"question": "Do you sell teapots?", "answer": "Yes, ceramic ones."}\n'
    document = await _document(kb, dataset, "shop-faq.jsonl", faq)
    base = f"/v1/datasets/{dataset}/documents/{document}/segments"
    listed = (await kb.get(base)).json()
    assert listed["doc_form"] == "qa_model"
    assert [(s["content"], s["answer"]) for s in listed["data"]] == [
        ("Do you sell teapots?", "Yes, ceramic ones.")
    ]
    no_answer = await kb.post(base, json={"segments": [{"content": "Do you sell cups?"}]})
    assert no_answer.status_code == 400
    added = await kb.post(
        base, json={"segments": [{"content": "Do you sell cups?", "answer": "Mugs only."}]}
    )
    assert added.status_code == 200
    await kb_runtime.datasets.wait_indexed(kb_runtime.apps.get("tiny"))
    hits = (await kb.post(f"/v1/datasets/{dataset}/retrieve", json={"query": "sell cups"})).json()
    assert hits["records"][0]["segment"]["answer"] == "Mugs only."
    assert hits["records"][0]["segment"]["id"] == added.json()["data"][0]["id"]


async def test_segment_errors(kb: httpx.AsyncClient, kb_runtime: Runtime) -> None:
    dataset = await new_dataset(kb)
    other = await new_dataset(kb, "other")
    document = await _document(kb, dataset, "care.md", GUIDE.encode())
    missing = "0190f0f0-0000-7000-8000-000000000000"
    base = f"/v1/datasets/{dataset}/documents/{document}/segments"
    assert (
        await kb.post(f"{base}/{missing}", json={"segment": {"content": "x"}})
    ).status_code == 404
    assert (await kb.delete(f"{base}/{missing}")).status_code == 404
    assert (await kb.delete(f"{base}/not-an-id")).status_code == 404
    assert (await kb.get(f"/v1/datasets/{dataset}/documents/{missing}/segments")).status_code == 404
    # A document is found only through its own dataset.
    assert (await kb.get(f"/v1/datasets/{other}/documents/{document}/segments")).status_code == 404
    assert (await kb.post(base, json={"segments": []})).status_code == 400
    assert (await kb.post(base, json={"segments": [{"content": ""}]})).status_code == 400
    await kb_runtime.datasets.wait_indexed(kb_runtime.apps.get("tiny"))
