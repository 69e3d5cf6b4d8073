"""Annotations and annotation reply (Dify's shapes), with the app key (``app-…``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from kefu.api.deps import AppKeyAuth, Page, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.schemas import Body
from kefu.core.records import AnnotationRecord
from kefu.services.annotations import ReplyAction

__all__ = ["router"]

router = APIRouter(prefix="/v1/apps", tags=["annotations"])

Limit = Annotated[int, Query(ge=1, le=100)]


class AnnotationIn(Body):
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)


class ReplySettingIn(Body):
    score_threshold: float | None = Field(
        None, ge=0, le=1, description="FAQ relevance an annotation's question must reach"
    )
    # Recorded as given: the app's own embedder (if any) is what matches annotations.
    embedding_provider_name: str | None = None
    embedding_model_name: str | None = None


def annotation_json(annotation: AnnotationRecord) -> dict[str, Any]:
    return {
        "id": annotation.id,
        "question": annotation.question,
        "answer": annotation.answer,
        "hit_count": annotation.hit_count,
        "created_at": int(annotation.created_at.timestamp()),
    }


@router.get("/annotations")
async def list_annotations(
    app: AppKeyAuth,
    runtime: RuntimeDep,
    page: Page = 1,
    limit: Limit = 20,
    keyword: str | None = None,
) -> Response:
    """The app's annotations, newest first, with how often each has answered."""
    found, total = await runtime.annotations.list_page(app, page, limit, keyword)
    return json_response(
        {
            "data": [annotation_json(a) for a in found],
            "has_more": page * limit < total,
            "limit": limit,
            "total": total,
            "page": page,
        }
    )


@router.post("/annotations", status_code=201)
async def create_annotation(body: AnnotationIn, app: AppKeyAuth, runtime: RuntimeDep) -> Response:
    created = await runtime.annotations.create(app, body.question, body.answer)
    return json_response(annotation_json(created), status_code=201)


@router.put("/annotations/{annotation_id}")
async def update_annotation(
    annotation_id: str, body: AnnotationIn, app: AppKeyAuth, runtime: RuntimeDep
) -> Response:
    updated = await runtime.annotations.update(app, annotation_id, body.question, body.answer)
    return json_response(annotation_json(updated))


@router.delete("/annotations/{annotation_id}", status_code=204)
async def delete_annotation(annotation_id: str, app: AppKeyAuth, runtime: RuntimeDep) -> Response:
    await runtime.annotations.delete(app, annotation_id)
    return Response(status_code=204)


@router.post("/annotation-reply/{action}")
async def set_annotation_reply(
    action: ReplyAction, app: AppKeyAuth, runtime: RuntimeDep, body: ReplySettingIn | None = None
) -> Response:
    """Turn annotation reply on (``enable``) or off (``disable``); done before replying."""
    body = body or ReplySettingIn()
    settings = await runtime.annotations.set_reply(
        app,
        action,
        body.score_threshold,
        body.embedding_provider_name,
        body.embedding_model_name,
    )
    return json_response({"job_id": settings.job_id, "job_status": "completed"})


@router.get("/annotation-reply/{action}/status/{job_id}")
async def annotation_reply_status(
    action: ReplyAction, job_id: str, app: AppKeyAuth, runtime: RuntimeDep
) -> Response:
    status = await runtime.annotations.reply_job(app, action, job_id)
    return json_response({"job_id": job_id, "job_status": status, "error_msg": ""})
