"""The customer's side of a hand-over (service API, app keys): live events from the agent
and the satisfaction rating after resolve. Also the JSON shapes the agent API shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from kefu.api.deps import ChatCaller, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.schemas import Body
from kefu.api.sse import event_stream_response, sse_data
from kefu.core.records import ConversationRecord, MessageRecord

__all__ = ["conversation_state_json", "message_view_json", "router"]

router = APIRouter(prefix="/v1", tags=["handoff"])


class CsatIn(Body):
    user: str | None = None
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=4000)


def conversation_state_json(conversation: ConversationRecord) -> dict[str, Any]:
    return {
        "conversation_id": conversation.id,
        "handoff_state": conversation.handoff_state,
        "assigned_agent_id": conversation.assigned_agent_id,
        "handoff_reason": conversation.handoff_reason,
        "handoff_at": (
            int(conversation.handoff_at.timestamp()) if conversation.handoff_at else None
        ),
    }


def message_view_json(message: MessageRecord) -> dict[str, Any]:
    """A message as the console shows it: who wrote it, how the bot routed it, its rating."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "query": message.query,
        "answer": message.answer,
        "route": message.route,
        "status": message.status,
        "intent": message.intent,
        "sentiment": message.sentiment,
        "agent": {"id": message.agent_id, "name": message.agent_name}
        if message.agent_name
        else None,
        "feedback": {"rating": message.feedback_rating} if message.feedback_rating else None,
        "retriever_resources": message.retriever_resources,
        "latency_ms": message.latency_ms,
        "created_at": int(message.created_at.timestamp()),
    }


@router.get("/conversations/{conversation_id}/events")
async def conversation_events(
    conversation_id: str,
    caller: ChatCaller,
    runtime: RuntimeDep,
    user: Annotated[str | None, Query()] = None,
) -> Response:
    """Server-sent events while a human owns the conversation: ``handoff_state`` first (the
    state now) and on every change, ``agent_message`` for each agent reply, ``ping``s."""
    events = await runtime.handoff.customer_events(caller.app, caller.user(user), conversation_id)

    async def frames() -> AsyncIterator[bytes]:
        async for event in events:
            yield sse_data(event)

    # Endless: a draining server ends it at the next ping (the client reconnects elsewhere).
    readiness = runtime.readiness
    return event_stream_response(
        frames(), runtime.settings.stream_ping_seconds, until=lambda: readiness.draining
    )


@router.post("/conversations/{conversation_id}/csat")
async def conversation_csat(
    conversation_id: str, body: CsatIn, caller: ChatCaller, runtime: RuntimeDep
) -> Response:
    """Rate the agent who resolved the conversation (1-5, optional comment)."""
    rating = await runtime.handoff.submit_csat(
        caller.app, caller.user(body.user), conversation_id, body.rating, body.comment
    )
    return json_response({"result": "success", "csat": rating})
