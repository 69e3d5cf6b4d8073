"""Conversations, history and feedback of the service API (Dify's shapes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kefu.api.deps import ChatCaller, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.routes.files import Files, message_file_json
from kefu.api.routes.follow_up import FollowUpDep
from kefu.api.schemas import FeedbackIn, RenameIn, UserIn
from kefu.api.wire import agent_thoughts
from kefu.core.file_records import FileRecord
from kefu.core.records import ConversationRecord, MessageRecord

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["conversations"])

TOOL_ROUTES = ("flow", "generate", "handoff")  # a flow's failed tool may hand over
User = Annotated[
    str | None, Query(description="the end user's identifier (implied by a page session)")
]
Limit = Annotated[int, Query(ge=1, le=100)]


def conversation_json(conversation: ConversationRecord) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "name": conversation.name,
        "inputs": conversation.inputs,
        "status": conversation.status,
        "handoff_state": conversation.handoff_state,
        "introduction": "",
        "created_at": int(conversation.created_at.timestamp()),
        "updated_at": int(conversation.updated_at.timestamp()),
    }


def message_json(
    message: MessageRecord,
    files: Sequence[FileRecord] = (),
    tool_calls: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    created_at = int(message.created_at.timestamp())
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "inputs": message.inputs,
        "query": message.query,
        "answer": message.answer,
        "status": message.status,
        "message_files": [message_file_json(f) for f in files],
        "feedback": {"rating": message.feedback_rating} if message.feedback_rating else None,
        "retriever_resources": message.retriever_resources,
        "agent_thoughts": [
            {**thought, "message_id": message.id, "chain_id": None, "created_at": created_at}
            for thought in agent_thoughts(tool_calls, message.id)
        ],
        "created_at": created_at,
        "error": message.error,
        # kefu: an agent's reply has an empty query and names the agent; null for the bot.
        "agent": {"id": message.agent_id, "name": message.agent_name}
        if message.agent_name
        else None,
    }


@router.get("/messages")
async def list_messages(
    caller: ChatCaller,
    runtime: RuntimeDep,
    conversation_id: Annotated[str, Query(min_length=1)],
    files: Files,
    follow_up: FollowUpDep,
    user: User = None,
    first_id: str | None = None,
    limit: Limit = 20,
) -> Response:
    """A conversation's history, oldest first; ``first_id`` pages back to older turns."""
    messages, has_more = await runtime.conversations.messages(
        caller.app, caller.user(user), conversation_id, first_id=first_id or None, limit=limit
    )
    ids = [m.id for m in messages]
    sent = await files.for_messages(ids)
    # Only a flow's action or function calling call tools: other answers' traces stay unread.
    tools = await follow_up.tool_calls(
        caller.app, [m.id for m in messages if m.route in TOOL_ROUTES]
    )
    data = [message_json(m, sent.get(m.id, ()), tools.get(m.id, ())) for m in messages]
    return json_response({"limit": limit, "has_more": has_more, "data": data})


@router.get("/conversations")
async def list_conversations(
    caller: ChatCaller,
    runtime: RuntimeDep,
    user: User = None,
    last_id: str | None = None,
    limit: Limit = 20,
    sort_by: Literal["created_at", "-created_at", "updated_at", "-updated_at"] = "-updated_at",
) -> Response:
    conversations, has_more = await runtime.conversations.list_page(
        caller.app, caller.user(user), last_id=last_id or None, limit=limit, sort_by=sort_by
    )
    return json_response(
        {
            "limit": limit,
            "has_more": has_more,
            "data": [conversation_json(c) for c in conversations],
        }
    )


@router.delete("/conversations/{conversation_id}")
async def delete_conversation(
    conversation_id: str, body: UserIn, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    await runtime.conversations.delete(caller.app, caller.user(body.user), conversation_id)
    return json_response({"result": "success"})


@router.post("/conversations/{conversation_id}/name")
async def rename_conversation(
    conversation_id: str, body: RenameIn, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    renamed = await runtime.conversations.rename(
        caller.app, caller.user(body.user), conversation_id, body.name, body.auto_generate
    )
    return json_response(conversation_json(renamed))


@router.post("/messages/{message_id}/feedbacks")
async def message_feedback(
    message_id: str, body: FeedbackIn, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    """Like or dislike an answer; ``rating: null`` withdraws it."""
    await runtime.conversations.feedback(
        caller.app, caller.user(body.user), message_id, body.rating, body.content
    )
    return json_response({"result": "success"})
