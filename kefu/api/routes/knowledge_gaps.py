"""``GET /admin/apps/{name}/knowledge-gaps``: what customers asked that the knowledge base
could not answer, near-duplicates grouped (admin key)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kefu.api.deps import AdminAuth, RuntimeDep
from kefu.api.responses import json_response
from kefu.services.knowledge_gaps import GapGroup

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
    report = await runtime.knowledge_gaps.report(app.id, app.name, days, limit)
    return json_response(
        {
            "app": report.app,
            "days": report.days,
            "questions": report.questions,
            "data": [gap_json(group) for group in report.groups],
        }
    )
