"""The knowledge loop's API (admin key): ``GET /admin/apps/{name}/knowledge-gaps`` — what
customers asked that the knowledge could not answer, or whose answer they disliked, grouped
by meaning; ``POST …/knowledge-gaps/draft`` — a draft answer for a group; ``POST
…/knowledge-gaps/promote`` — publish an answer as an FAQ entry or annotation, then re-check
the unanswered questions against it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from kefu.api.deps import AdminAuth, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.schemas import StrictBody
from kefu.services.knowledge_gaps import GapGroup
from kefu.services.knowledge_loop import Draft, Promoted

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminAuth])


def gap_json(group: GapGroup) -> dict[str, Any]:
    return {
        "question": group.question,
        "count": group.count,
        "examples": group.examples,
        "last_asked_at": int(group.last_asked.timestamp()),
        "best_score": group.best_score,
        "message_ids": group.message_ids,  # open one with /admin/messages/{id}/trace
        "disliked": group.disliked,
    }


class DraftIn(StrictBody):
    question: str = Field(min_length=1, max_length=4000)


class PromoteIn(StrictBody):
    question: str = Field(min_length=1, max_length=4000)
    answer: str = Field(min_length=1, max_length=4000)
    variants: list[str] = Field(default_factory=list, max_length=20)
    kind: Literal["faq", "annotation"] = Field("faq", alias="as")


def draft_json(draft: Draft) -> dict[str, Any]:
    return {"draft": draft.text, "kind": draft.kind, "sources": draft.sources}


def promoted_json(promoted: Promoted) -> dict[str, Any]:
    return {
        "as": promoted.kind,
        "id": promoted.id,
        "question": promoted.question,
        "answer": promoted.answer,
        "variants": promoted.variants,
        "rechecked": promoted.rechecked,
        "now_answered": promoted.now_answered,
        "annotation_reply_enabled": promoted.annotation_reply_enabled,
    }


@router.get("/apps/{name}/knowledge-gaps")
async def knowledge_gaps(
    name: str,
    runtime: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=3650)] = 7,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> Response:
    """Groups of unanswered questions over the last ``days`` days, the largest first."""
    app = runtime.apps.get(name)
    report = await runtime.knowledge_gaps.report(
        app.id, app.name, days, limit, embedder=app.index.embedder
    )
    return json_response(
        {
            "app": report.app,
            "days": report.days,
            "questions": report.questions,
            "data": [gap_json(group) for group in report.groups],
        }
    )


@router.post("/apps/{name}/knowledge-gaps/draft")
async def draft_answer(name: str, body: DraftIn, runtime: RuntimeDep) -> Response:
    """A draft answer to a gap's question: the app's model from the best passages, or the
    best passage (``kind`` says which; ``none`` when the knowledge has nothing)."""
    app = runtime.apps.get(name)
    return json_response(draft_json(await runtime.knowledge_loop.draft(app, body.question)))


@router.post("/apps/{name}/knowledge-gaps/promote", status_code=201)
async def promote_answer(name: str, body: PromoteIn, runtime: RuntimeDep) -> Response:
    """Publish the answer (``as``: faq — with the variants — or annotation); once indexed,
    the newest unanswered questions are re-checked and those it answers leave the report."""
    app = runtime.apps.get(name)
    promoted = await runtime.knowledge_loop.promote(
        app, body.question, body.answer, body.variants, body.kind
    )
    return json_response(promoted_json(promoted), status_code=201)
