"""Documents through the knowledge API: text and file uploads, indexing status, retrieval,
replacement and deletion — and the bot answering from what was uploaded."""

from __future__ import annotations

import io
import json
from typing import Any

import docx
import httpx

from kefu.services.runtime import Runtime
from tests.knowledge._pdf import make_pdf
from tests.knowledge_api.conftest import new_dataset, wait_completed

DESCALING = (
    "# Descaling\n\nDescale the kettle every month with white vinegar. "
    "Rinse twice before boiling water for tea.\n"
)


async def retrieve(kb: httpx.AsyncClient, dataset_id: str, query: str, **model: Any) -> Any:
    body: dict[str, Any] = {"query": query}
    if model:
        body["retrieval_model"] = model
    response = await kb.post(f"/v1/datasets/{dataset_id}/retrieve", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def upload(
    kb: httpx.AsyncClient, dataset_id: str, name: str, content: bytes, data: Any = None
) -> httpx.Response:
    form = {"data": json.dumps(data)} if data is not None else {}
    return await kb.post(
        f"/v1/datasets/{dataset_id}/document/create-by-file",
        files={"file": (name, content)},
        data=form,
    )


async def test_text_is_indexed_retrieved_and_answered(
    kb: httpx.AsyncClient, service: httpx.AsyncClient
) -> None:
    dataset = await new_dataset(kb)
    created = await kb.post(
        f"/v1/datasets/{dataset}/document/create-by-text",
        json={
            "name": "care guide",
            "text": DESCALING,
            "indexing_technique": "high_quality",
            "process_rule": {"mode": "automatic"},
        },
    )
    assert created.status_code == 200, created.text
    body = created.json()
    document = body["document"]
    assert document["name"] == "care guide" and document["indexing_status"] in (
        "indexing",
        "completed",
    )
    [status] = await wait_completed(kb, dataset, body["batch"])
    assert status["id"] == document["id"] and status["completed_segments"] == 1

    found = await retrieve(kb, dataset, "how often should I descale the kettle")
    assert found["query"] == {"content": "how often should I descale the kettle"}
    [record] = found["records"]
    assert "white vinegar" in record["segment"]["content"]
    assert record["segment"]["document"]["id"] == document["id"]
    assert record["segment"]["document"]["name"] == "care guide"
    assert 0 < record["score"] <= 1

    answer = await service.post(
        "/v1/chat-messages",
        json={"query": "how often should I descale the kettle", "user": "u1",
              "response_mode": "blocking"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert "white vinegar" in answer.json()["answer"]
    [source] = answer.json()["metadata"]["retriever_resources"]
    assert source["document_name"] == "care guide"


async def test_every_upload_format(kb: httpx.AsyncClient) -> None:
    dataset = await new_dataset(kb)
    word = docx.Document()
    word.add_heading("Gift wrapping", level=1)
    word.add_paragraph("Gift wrapping costs three euros and includes a handwritten card.")
    buffer = io.BytesIO()
    word.save(buffer)
    uploads = {
        "returns.md": b"# Returns\n\nUnused kettles can be returned within thirty days.",
        "delivery.txt": b"Delivery to the islands takes five working days by ferry.",
        "loyalty.html": b"<html><head><title>Loyalty</title></head><body><h1>Loyalty</h1>"
        b"<p>Every tenth descaling tablet pack is free for loyalty members.</p></body></html>",
        "voltage.pdf": make_pdf([["All kettles run on 230 volt mains electricity only."]]),
        "gifts.docx": buffer.getvalue(),
        "extra-faq.csv": b"question,answer\nDo you sell teapots?,Yes: ceramic teapots.\n",
    }
    batches = {}
    for name, content in uploads.items():
        response = await upload(kb, dataset, name, content, {"indexing_technique": "economy"})
        assert response.status_code == 200, (name, response.text)
        batches[name] = response.json()["batch"]
        assert response.json()["document"]["name"] == name
    for batch in batches.values():
        await wait_completed(kb, dataset, batch)
    expectations = {
        "returned within thirty days": "returns.md",
        "delivery islands ferry": "delivery.txt",
        "descaling tablet loyalty members": "loyalty.html",
        "230 volt mains": "voltage.pdf",
        "gift wrapping cost": "gifts.docx",
        "do you sell teapots": "extra-faq.csv",
    }
    for query, name in expectations.items():
        records = (await retrieve(kb, dataset, query, top_k=1))["records"]
        assert records and records[0]["segment"]["document"]["name"] == name, query
    faq = (await retrieve(kb, dataset, "do you sell teapots", top_k=1))["records"][0]
    assert faq["segment"]["content"] == "Do you sell teapots?"
    assert faq["segment"]["answer"] == "Yes: ceramic teapots."
    listed = (await kb.get(f"/v1/datasets/{dataset}/documents", params={"limit": 4})).json()
    assert listed["total"] == 6 and listed["has_more"] and len(listed["data"]) == 4
    assert (await kb.get(f"/v1/datasets/{dataset}")).json()["document_count"] == 6


async def test_upload_errors_use_the_envelope(kb: httpx.AsyncClient, kb_runtime: Runtime) -> None:
    dataset = await new_dataset(kb)
    limit = kb_runtime.settings.max_upload_bytes
    too_big = await upload(kb, dataset, "huge.txt", b"x" * (limit + 1))
    assert too_big.status_code == 413 and str(limit) in too_big.json()["message"]
    # A file above the JSON body limit but under the upload limit is accepted.
    big = await upload(kb, dataset, "big.txt", "退货运费说明。".encode() * 3000)
    assert big.status_code == 200, big.text
    assert too_big.json()["code"] == "request_entity_too_large"
    unsupported = await upload(kb, dataset, "sheet.xlsx", b"PK\x03\x04")
    assert (
        unsupported.status_code == 400 and "unsupported file type" in unsupported.json()["message"]
    )
    empty = await upload(kb, dataset, "empty.md", b"  \n")
    assert empty.status_code == 400 and "empty" in empty.json()["message"]
    broken = await upload(kb, dataset, "broken.pdf", b"%PDF-1.4 not really")
    assert broken.status_code == 400 and "broken.pdf" in broken.json()["message"]
    bad_data = await kb.post(
        f"/v1/datasets/{dataset}/document/create-by-file",
        files={"file": ("a.md", b"# A\n\ntext")},
        data={"data": "{not json"},
    )
    assert bad_data.status_code == 400 and "data" in bad_data.json()["message"]
    not_multipart = await kb.post(f"/v1/datasets/{dataset}/document/create-by-file", json={})
    assert not_multipart.status_code == 415
    no_file = await kb.post(
        f"/v1/datasets/{dataset}/document/create-by-file", files={"other": ("a.md", b"x")}
    )
    assert no_file.status_code == 400
    bad_rule = await kb.post(
        f"/v1/datasets/{dataset}/document/create-by-text",
        json={
            "name": "a",
            "text": "some text",
            "process_rule": {"mode": "custom", "rules": {"segmentation": {"max_tokens": "big"}}},
        },
    )
    assert bad_rule.status_code == 400 and "max_tokens" in bad_rule.json()["message"]
    nowhere = await upload(kb, "0190f0f0-0000-7000-8000-000000000000", "a.md", b"# A\n\ntext")
    assert nowhere.status_code == 404
    assert (
        await kb.get(f"/v1/datasets/{dataset}/documents/nobatch/indexing-status")
    ).status_code == 404


async def test_custom_process_rule_splits_smaller(kb: httpx.AsyncClient) -> None:
    dataset = await new_dataset(kb)
    text = " ".join(f"Sentence number {n} talks about kettle model K{n}." for n in range(40))
    rule = {
        "mode": "custom",
        "rules": {
            "pre_processing_rules": [{"id": "remove_urls_emails", "enabled": True}],
            "segmentation": {"separator": "\n", "max_tokens": 200, "chunk_overlap": 0},
        },
    }
    created = await kb.post(
        f"/v1/datasets/{dataset}/document/create-by-text",
        json={"name": "models.txt", "text": text + " Mail sales@example.com", "process_rule": rule},
    )
    document = created.json()["document"]
    assert document["segment_count"] > 5
    segments = (
        await kb.get(f"/v1/datasets/{dataset}/documents/{document['id']}/segments",
                     params={"limit": 100})
    ).json()  # fmt: skip
    assert all(len(s["content"]) <= 200 for s in segments["data"])
    assert not any("sales@example.com" in s["content"] for s in segments["data"])


async def test_delete_removes_from_retrieval_and_answers(
    kb: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    dataset = await new_dataset(kb)
    created = (await upload(kb, dataset, "care.md", DESCALING.encode())).json()
    await wait_completed(kb, dataset, created["batch"])
    assert (await retrieve(kb, dataset, "descale kettle vinegar"))["records"]

    document_id = created["document"]["id"]
    deleted = await kb.delete(f"/v1/datasets/{dataset}/documents/{document_id}")
    assert deleted.status_code == 204
    await kb_runtime.datasets.wait_indexed(kb_runtime.apps.get("tiny"))
    assert (await retrieve(kb, dataset, "descale kettle vinegar"))["records"] == []
    app = kb_runtime.apps.get("tiny")
    hits = app.index.search("descale kettle vinegar", top_k=20)
    assert not any("vinegar" in hit.chunk.content for hit in hits)  # gone from the app index
    again = await kb.delete(f"/v1/datasets/{dataset}/documents/{document_id}")
    assert again.status_code == 404


async def test_reupload_with_the_same_name_replaces_the_chunks(kb: httpx.AsyncClient) -> None:
    dataset = await new_dataset(kb)
    first = (await upload(kb, dataset, "care.md", DESCALING.encode())).json()
    await wait_completed(kb, dataset, first["batch"])
    same = (await upload(kb, dataset, "care.md", DESCALING.encode())).json()
    assert same["batch"] == first["batch"]  # unchanged: nothing to index again
    changed = DESCALING.replace("white vinegar", "citric acid")
    second = (await upload(kb, dataset, "care.md", changed.encode())).json()
    assert second["document"]["id"] == first["document"]["id"]
    assert second["batch"] != first["batch"]
    await wait_completed(kb, dataset, second["batch"])
    records = (await retrieve(kb, dataset, "descale kettle"))["records"]
    contents = " ".join(r["segment"]["content"] for r in records)
    assert "citric acid" in contents and "white vinegar" not in contents
    assert (await kb.get(f"/v1/datasets/{dataset}/documents")).json()["total"] == 1


async def test_update_by_text_keeps_the_document(kb: httpx.AsyncClient) -> None:
    dataset = await new_dataset(kb)
    first = (await upload(kb, dataset, "care.md", DESCALING.encode())).json()
    document_id = first["document"]["id"]
    updated = await kb.post(
        f"/v1/datasets/{dataset}/documents/{document_id}/update-by-text",
        json={"text": "# Care\n\nWipe the kettle with a soft cloth."},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["document"]["id"] == document_id
    await wait_completed(kb, dataset, updated.json()["batch"])
    [record] = (await retrieve(kb, dataset, "soft cloth wipe"))["records"]
    assert record["segment"]["document"]["id"] == document_id


async def test_retrieve_stays_inside_its_dataset(
    kb: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    app_id = kb_runtime.apps.get("tiny").id
    policies, manuals = await new_dataset(kb, "policies"), await new_dataset(kb, "manuals")
    created = (await upload(kb, policies, "care.md", DESCALING.encode())).json()
    await wait_completed(kb, policies, created["batch"])
    assert (await retrieve(kb, policies, "descale kettle vinegar"))["records"]
    assert (await retrieve(kb, manuals, "descale kettle vinegar"))["records"] == []
    default = (await retrieve(kb, app_id, "descale kettle vinegar"))["records"]
    assert not any("vinegar" in r["segment"]["content"] for r in default)
    # The default dataset holds the app's YAML knowledge: FAQ entries and the warranty.
    hours = (await retrieve(kb, app_id, "what are your opening hours", top_k=1))["records"][0]
    assert hours["segment"]["answer"].startswith("We are open")
    warranty = (await retrieve(kb, app_id, "kettle warranty limescale", top_k=1))["records"]
    assert warranty[0]["segment"]["document"]["name"] == "Warranty Policy"
    loose = (await retrieve(kb, app_id, "kettle warranty limescale", top_k=10))["records"]
    strict = await retrieve(
        kb, app_id, "kettle warranty limescale", top_k=10, score_threshold_enabled=True,
        score_threshold=0.5,
    )  # fmt: skip
    assert 0 < len(strict["records"]) < len(loose)
    assert all(r["score"] >= 0.5 for r in strict["records"])


async def test_update_by_file_and_deleting_the_dataset(
    kb: httpx.AsyncClient, kb_runtime: Runtime
) -> None:
    dataset = await new_dataset(kb)
    first = (await upload(kb, dataset, "care.md", DESCALING.encode())).json()
    document_id = first["document"]["id"]
    updated = await kb.post(
        f"/v1/datasets/{dataset}/documents/{document_id}/update-by-file",
        files={"file": ("care.txt", b"Store the kettle upside down to dry.")},
        data={"data": json.dumps({"process_rule": {"mode": "automatic"}})},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["document"]["id"] == document_id
    assert updated.json()["document"]["name"] == "care.txt"
    await wait_completed(kb, dataset, updated.json()["batch"])
    [record] = (await retrieve(kb, dataset, "store kettle upside down"))["records"]
    assert record["segment"]["document"]["id"] == document_id

    assert (await kb.delete(f"/v1/datasets/{dataset}")).status_code == 204
    await kb_runtime.datasets.wait_indexed(kb_runtime.apps.get("tiny"))
    hits = kb_runtime.apps.get("tiny").index.search("store kettle upside down", top_k=20)
    assert not any("upside down" in hit.chunk.content for hit in hits)
    gone = await kb.get(f"/v1/datasets/{dataset}/documents/{document_id}/segments")
    assert gone.status_code == 404
