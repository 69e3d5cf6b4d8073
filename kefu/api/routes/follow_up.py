"""Around an answer (Dify's service API): ``GET /v1/messages/{id}/suggested``,
``GET /v1/conversations/{id}/variables`` and ``GET /v1/app/feedbacks``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from kefu.api.deps import ChatCaller, KeyCaller, Page, RuntimeDep
from kefu.api.responses import json_response
from kefu.services.follow_up import FollowUp

__all__ = ["FollowUpDep", "router"]

router = APIRouter(prefix="/v1", tags=["conversations"])

User = Annotated[
    str | None, Query(description="the end user's identifier (implied by a page session)")
]


def follow_up(runtime: RuntimeDep) -> FollowUp:
    return FollowUp(runtime.store)


FollowUpDep = Annotated[FollowUp, Depends(follow_up)]


@router.get("/messages/{message_id}/suggested")
async def suggested(
    message_id: str, caller: ChatCaller, service: FollowUpDep, user: User = None
) -> Response:
    """Questions to ask next: the closest other FAQ questions, in the question's language."""
    questions = await service.suggested(caller.app, caller.user(user), message_id)
    return json_response({"result": "success", "data": questions})


@router.get("/conversations/{conversation_id}/variables")
async def conversation_variables(
    conversation_id: str,
    caller: ChatCaller,
    service: FollowUpDep,
    user: User = None,
    last_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    variable_name: str | None = None,
) -> Response:
    """The conversation's dialog state (flow slots, remembered values) as Dify's
    conversation variables; only the conversation's own user may read them."""
    variables = await service.variables(caller.app, caller.user(user), conversation_id)
    if variable_name:
        variables = [v for v in variables if v.name == variable_name]
    if last_id:
        ids = [v.id for v in variables]
        variables = variables[ids.index(last_id) + 1 :] if last_id in ids else []
    page = variables[:limit]
    return json_response(
        {
            "limit": limit,
            "has_more": len(variables) > limit,
            "data": [
                {
                    "id": v.id,
                    "name": v.name,
                    "value_type": v.value_type,
                    "value": v.value,
                    "description": v.description,
                    "created_at": int(v.created_at.timestamp()),
                    "updated_at": int(v.updated_at.timestamp()),
                }
                for v in page
            ],
        }
    )


@router.get("/app/feedbacks")
async def app_feedbacks(
    caller: KeyCaller,
    service: FollowUpDep,
    page: Page = 1,
    limit: Annotated[int, Query(ge=1, le=101)] = 20,
) -> Response:
    """The app's likes and dislikes, newest first (an app key: not for page sessions)."""
    found = await service.feedbacks(caller.app, page, limit)
    return json_response(
        {
            "data": [
                {
                    "id": f.id,
                    "app_id": f.app_id,
                    "conversation_id": f.conversation_id,
                    "message_id": f.message_id,
                    "rating": f.rating,
                    "content": f.content,
                    "from_source": "api",
                    "from_end_user_id": f.end_user_id,
                    "from_account_id": None,
                    "created_at": f.created_at.isoformat(),
                    "updated_at": f.updated_at.isoformat(),
                }
                for f in found
            ]
        }
    )
