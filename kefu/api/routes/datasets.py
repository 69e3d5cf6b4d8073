"""The knowledge API (Dify's ``/v1/datasets`` shapes), with a dataset key (``dataset-…``).

A dataset key belongs to one app; its datasets — the default one holding the app's own
knowledge, and any created here — all feed that app's index (see
:mod:`kefu.services.datasets`). File uploads are ``multipart/form-data`` (``file`` and an
optional ``data`` JSON string), at most the server's ``KEFU_MAX_BODY_BYTES``.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import Field

from kefu.api.deps import DatasetAuth, Page, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.routes.dataset_json import (
    dataset_json,
    document_json,
    indexing_json,
    segment_json,
)
from kefu.api.schemas import Body
from kefu.core.errors import InvalidParam
from kefu.core.records import DocumentRecord, SegmentDraft
from kefu.safety import clean_text
from kefu.services.datasets import DatasetService
from kefu.services.registry import AppRuntime
from kefu.services.runtime import Runtime

__all__ = ["router"]

router = APIRouter(prefix="/v1/datasets", tags=["knowledge"])

Limit = Annotated[int, Query(ge=1, le=100)]
Keyword = Annotated[str | None, Query(max_length=255)]


class DatasetIn(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    # Accepted for Dify clients; every dataset of an app uses the app's retrieval settings.
    indexing_technique: str | None = None
    permission: str | None = None


class TextDocumentIn(Body):
    name: str = Field(min_length=1, max_length=255)
    text: str
    indexing_technique: str | None = None  # accepted; the app's retrieval settings apply
    process_rule: dict[str, Any] | None = None


class TextUpdateIn(Body):
    name: str | None = Field(None, min_length=1, max_length=255)
    text: str
    process_rule: dict[str, Any] | None = None


class SegmentIn(Body):
    content: str = Field(min_length=1)
    answer: str = ""
    keywords: list[str] | None = None  # accepted; kefu matches on the text itself


class SegmentsIn(Body):
    segments: list[SegmentIn] = Field(min_length=1)


class SegmentUpdateIn(Body):
    segment: SegmentIn


class RetrievalModelIn(Body):
    search_method: str | None = None  # accepted; the app's index decides (see dataset JSON)
    reranking_enable: bool | None = None
    top_k: int | None = Field(None, ge=1, le=100)
    score_threshold_enabled: bool | None = None
    score_threshold: float | None = Field(None, ge=0, le=1)


class RetrieveIn(Body):
    query: str = Field(min_length=1, max_length=10_000)
    retrieval_model: RetrievalModelIn | None = None


def _page(data: list[Any], page: int, limit: int, total: int, **extra: Any) -> dict[str, Any]:
    return {
        "data": data,
        "has_more": page * limit < total,
        "limit": limit,
        "total": total,
        "page": page,
        **extra,
    }


async def _documents_json(
    datasets: DatasetService, app: AppRuntime, documents: list[DocumentRecord], first: int = 1
) -> list[dict[str, Any]]:
    words = await datasets.word_counts(documents)
    return [
        document_json(d, datasets.indexing_status(app, d), words.get(d.id, 0), first + n)
        for n, d in enumerate(documents)
    ]


async def _created(
    runtime: Runtime, app: AppRuntime, document: DocumentRecord, batch: str
) -> Response:
    [body] = await _documents_json(runtime.datasets, app, [document])
    return json_response({"document": body, "batch": batch})


def _data_field(data: str | None) -> dict[str, Any]:
    """The ``data`` form field of a file upload: a JSON object (or nothing)."""
    if not data:
        return {}
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidParam("data must be a JSON object (a string in the form)") from None
    if not isinstance(parsed, dict):
        raise InvalidParam("data must be a JSON object")
    return parsed


# --- datasets ----------------------------------------------------------------------------


@router.post("")
async def create_dataset(body: DatasetIn, app: DatasetAuth, runtime: RuntimeDep) -> Response:
    dataset = await runtime.datasets.create_dataset(app, body.name, body.description)
    return json_response(dataset_json(dataset, app))


@router.get("")
async def list_datasets(
    app: DatasetAuth, runtime: RuntimeDep, page: Page = 1, limit: Limit = 20
) -> Response:
    """The app's datasets: its default one (the app's own knowledge) first."""
    found, total = await runtime.datasets.list_datasets(app, page, limit)
    return json_response(_page([dataset_json(d, app) for d in found], page, limit, total))


@router.get("/{dataset_id}")
async def get_dataset(dataset_id: str, app: DatasetAuth, runtime: RuntimeDep) -> Response:
    return json_response(dataset_json(await runtime.datasets.get_dataset(app, dataset_id), app))


@router.delete("/{dataset_id}", status_code=204)
async def delete_dataset(dataset_id: str, app: DatasetAuth, runtime: RuntimeDep) -> Response:
    await runtime.datasets.delete_dataset(app, dataset_id)
    return Response(status_code=204)


# --- documents ---------------------------------------------------------------------------


@router.post("/{dataset_id}/document/create-by-text")
@router.post("/{dataset_id}/document/create_by_text", include_in_schema=False)
async def create_document_by_text(
    dataset_id: str, body: TextDocumentIn, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    """Store text as a document; poll the batch's indexing status until ``completed``."""
    document, batch = await runtime.datasets.add_text(
        app, dataset_id, body.name, body.text, body.process_rule
    )
    return await _created(runtime, app, document, batch)


@router.post("/{dataset_id}/document/create-by-file")
@router.post("/{dataset_id}/document/create_by_file", include_in_schema=False)
async def create_document_by_file(
    dataset_id: str,
    app: DatasetAuth,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="md, txt, html, pdf, docx; csv/jsonl FAQ")],
    data: Annotated[str | None, Form(description="JSON: process_rule, …")] = None,
) -> Response:
    """Upload a file; one of the same name in the dataset is replaced."""
    options = _data_field(data)
    content = await file.read()
    document, batch = await runtime.datasets.add_file(
        app, dataset_id, file.filename or "", content, options.get("process_rule")
    )
    return await _created(runtime, app, document, batch)


@router.post("/{dataset_id}/documents/{document_id}/update-by-text")
@router.post("/{dataset_id}/documents/{document_id}/update_by_text", include_in_schema=False)
async def update_document_by_text(
    dataset_id: str, document_id: str, body: TextUpdateIn, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    document, batch = await runtime.datasets.replace(
        app,
        dataset_id,
        document_id,
        body.name,
        # A lone surrogate (valid JSON, "\ud800") has no UTF-8 form: replaced, as the
        # create-by-text path's clean-up does, instead of failing the request.
        clean_text(body.text).encode("utf-8"),
        body.process_rule,
        text=True,
    )
    return await _created(runtime, app, document, batch)


@router.post("/{dataset_id}/documents/{document_id}/update-by-file")
@router.post("/{dataset_id}/documents/{document_id}/update_by_file", include_in_schema=False)
async def update_document_by_file(
    dataset_id: str,
    document_id: str,
    app: DatasetAuth,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File()],
    data: Annotated[str | None, Form()] = None,
) -> Response:
    options = _data_field(data)
    content = await file.read()
    document, batch = await runtime.datasets.replace(
        app,
        dataset_id,
        document_id,
        file.filename or None,
        content,
        options.get("process_rule"),
        text=False,
    )
    return await _created(runtime, app, document, batch)


@router.get("/{dataset_id}/documents/{batch}/indexing-status")
async def indexing_status(
    dataset_id: str, batch: str, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    """``indexing`` until this server's index includes the documents, then ``completed``."""
    documents = await runtime.datasets.batch(app, dataset_id, batch)
    datasets = runtime.datasets
    return json_response(
        {"data": [indexing_json(d, datasets.indexing_status(app, d)) for d in documents]}
    )


@router.get("/{dataset_id}/documents")
async def list_documents(
    dataset_id: str,
    app: DatasetAuth,
    runtime: RuntimeDep,
    page: Page = 1,
    limit: Limit = 20,
    keyword: Keyword = None,
) -> Response:
    found, total = await runtime.datasets.list_documents(app, dataset_id, page, limit, keyword)
    first = (page - 1) * limit + 1
    data = await _documents_json(runtime.datasets, app, found, first)
    return json_response(_page(data, page, limit, total))


@router.delete("/{dataset_id}/documents/{document_id}", status_code=204)
async def delete_document(
    dataset_id: str, document_id: str, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    """Remove the document from the dataset and, once reindexed, from every answer."""
    await runtime.datasets.delete_document(app, dataset_id, document_id)
    return Response(status_code=204)


# --- segments ----------------------------------------------------------------------------


def _doc_form(document: DocumentRecord) -> str:
    return "qa_model" if document.kind == "faq" else "text_model"


@router.post("/{dataset_id}/documents/{document_id}/segments")
async def add_segments(
    dataset_id: str, document_id: str, body: SegmentsIn, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    """Append chunks to a document, or entries to an FAQ document (content = question)."""
    drafts = [SegmentDraft(s.content, s.answer) for s in body.segments]
    document, added = await runtime.datasets.add_segments(app, dataset_id, document_id, drafts)
    created = int(document.created_at.timestamp())
    return json_response(
        {
            "data": [segment_json(s, "indexing", created) for s in added],
            "doc_form": _doc_form(document),
        }
    )


@router.get("/{dataset_id}/documents/{document_id}/segments")
async def list_segments(
    dataset_id: str,
    document_id: str,
    app: DatasetAuth,
    runtime: RuntimeDep,
    page: Page = 1,
    limit: Limit = 20,
    keyword: Keyword = None,
) -> Response:
    document, found, total = await runtime.datasets.list_segments(
        app, dataset_id, document_id, page, limit, keyword
    )
    status = runtime.datasets.indexing_status(app, document)
    created = int(document.created_at.timestamp())
    data = [segment_json(s, status, created) for s in found]
    return json_response(_page(data, page, limit, total, doc_form=_doc_form(document)))


@router.post("/{dataset_id}/documents/{document_id}/segments/{segment_id}")
async def update_segment(
    dataset_id: str,
    document_id: str,
    segment_id: str,
    body: SegmentUpdateIn,
    app: DatasetAuth,
    runtime: RuntimeDep,
) -> Response:
    draft = SegmentDraft(body.segment.content, body.segment.answer)
    document, updated = await runtime.datasets.update_segment(
        app, dataset_id, document_id, segment_id, draft
    )
    created = int(document.created_at.timestamp())
    return json_response(
        {"data": segment_json(updated, "indexing", created), "doc_form": _doc_form(document)}
    )


@router.delete("/{dataset_id}/documents/{document_id}/segments/{segment_id}", status_code=204)
async def delete_segment(
    dataset_id: str, document_id: str, segment_id: str, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    await runtime.datasets.delete_segment(app, dataset_id, document_id, segment_id)
    return Response(status_code=204)


# --- hit testing -------------------------------------------------------------------------


@router.post("/{dataset_id}/retrieve")
@router.post("/{dataset_id}/hit-testing", include_in_schema=False)
async def retrieve(
    dataset_id: str, body: RetrieveIn, app: DatasetAuth, runtime: RuntimeDep
) -> Response:
    """The dataset's best FAQ entries and passages for ``query``; ``score`` is relevance in
    [0, 1], the scale of the app's ``faq_threshold`` and ``passage_threshold``."""
    model = body.retrieval_model or RetrievalModelIn()
    threshold = model.score_threshold
    if model.score_threshold_enabled is False:
        threshold = None
    top_k = model.top_k or app.config.knowledge.top_k
    found = await runtime.datasets.retrieve(app, dataset_id, body.query, top_k, threshold)
    records = []
    for hit in found:
        segment = segment_json(hit.segment, "completed", 0)
        segment["document"] = {
            "id": hit.segment.document_id,
            "data_source_type": "upload_file",
            "name": hit.document_name,
            "doc_type": None,
            "doc_metadata": None,
        }
        records.append(
            {
                "segment": segment,
                "child_chunks": [],
                "score": round(hit.score, 4),
                "tsne_position": None,
                "files": [],
                "summary": None,
            }
        )
    return json_response({"query": {"content": body.query}, "records": records})
