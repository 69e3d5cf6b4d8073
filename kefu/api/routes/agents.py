"""Agent API (``Authorization: Bearer agent-…``, or the admin key acting as agent ``admin``):
the inbox, claim, reply, internal notes, transfer, resolve, traces and tickets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import Field

from kefu.api.deps import RuntimeDep, bearer_token, runtime_of
from kefu.api.responses import json_response
from kefu.api.routes.files import Files, message_file_json
from kefu.api.routes.handoff import conversation_state_json, message_view_json
from kefu.api.routes.knowledge_gaps import PromoteIn, promoted_json
from kefu.api.schemas import StrictBody
from kefu.api.wire import agent_json
from kefu.core.errors import Forbidden
from kefu.core.handoff_records import AgentRecord, InboxItem, NoteRecord
from kefu.services.handoff_notify import ticket_json

__all__ = ["router"]

router = APIRouter(prefix="/v1/agent", tags=["agents"])


async def current_agent(request: Request) -> AgentRecord:
    runtime = runtime_of(request)
    token = bearer_token(request)
    is_admin = runtime.is_admin_key(token)
    if not is_admin and not token.startswith("agent-"):
        if runtime.apps.authenticate(token) is not None:
            raise Forbidden("this key cannot use the agent API; use an agent key")
    return await runtime.agents.authenticate(token, is_admin=is_admin)


Agent = Annotated[AgentRecord, Depends(current_agent)]
Limit = Annotated[int, Query(ge=1, le=500)]


class StatusIn(StrictBody):
    online: bool


class TextIn(StrictBody):
    text: str = Field(max_length=20_000)


class TransferIn(StrictBody):
    agent_id: str | None = Field(None, description="the agent to hand it to; null: the queue")


Priority = Literal["low", "normal", "high", "urgent"]


class TicketIn(StrictBody):
    conversation_id: str | None = None
    app: str | None = Field(None, description="the app, when there is no conversation")
    title: str = Field(max_length=255)
    description: str = Field("", max_length=20_000)
    priority: Priority = "normal"
    assignee_id: str | None = None


class TicketPatch(StrictBody):
    title: str | None = Field(None, max_length=255)
    description: str | None = Field(None, max_length=20_000)
    priority: Priority | None = None
    status: Literal["open", "pending", "solved", "closed"] | None = None
    assignee_id: str | None = None


def inbox_json(item: InboxItem, app_names: dict[str, str]) -> dict[str, Any]:
    return {
        "conversation_id": item.conversation_id,
        "app": app_names.get(item.app_id, ""),
        "user": item.user,
        "name": item.name,
        "handoff_state": item.handoff_state,
        "handoff_reason": item.handoff_reason,
        "handoff_at": int(item.handoff_at.timestamp()) if item.handoff_at else None,
        "assigned_agent": (
            {"id": item.assigned_agent_id, "name": item.assigned_agent_name}
            if item.assigned_agent_id
            else None
        ),
        "last_query": item.last_query,
        "message_count": item.message_count,
        "updated_at": int(item.updated_at.timestamp()),
    }


def note_json(note: NoteRecord) -> dict[str, Any]:
    return {
        "id": note.id,
        "agent": {"id": note.agent_id, "name": note.agent_name},
        "text": note.body,
        "created_at": int(note.created_at.timestamp()),
    }


@router.get("/me")
async def me(agent: Agent, request: Request, runtime: RuntimeDep) -> Response:
    """Who is signed in; ``admin``: the admin key (the console then offers analytics)."""
    return json_response(
        {**agent_json(agent), "admin": runtime.is_admin_key(bearer_token(request))}
    )


@router.post("/status")
async def set_status(body: StatusIn, agent: Agent, runtime: RuntimeDep) -> Response:
    """Go online (round-robin assignment includes you) or offline."""
    return json_response(agent_json(await runtime.agents.set_online(agent, body.online)))


@router.get("/agents")
async def list_agents(agent: Agent, runtime: RuntimeDep) -> Response:
    """Colleagues to transfer to."""
    colleagues = await runtime.agents.agents(colleague_of=agent)
    return json_response({"data": [agent_json(a) for a in colleagues]})


@router.get("/inbox")
async def inbox(
    agent: Agent,
    runtime: RuntimeDep,
    state: Literal["pending_human", "human", "resolved"] | None = None,
    app: str | None = None,
    min_wait_s: Annotated[float | None, Query(ge=0, le=315_360_000)] = None,  # ≤ 10 years
    mine: bool = False,
    limit: Limit = 100,
) -> Response:
    """Conversations waiting for or owned by agents, longest waiting first."""
    items = await runtime.agents.inbox(
        agent, state=state, app=app, min_wait_s=min_wait_s, mine=mine, limit=limit
    )
    names = {a.id: a.name for a in runtime.apps.all()}
    return json_response({"data": [inbox_json(i, names) for i in items]})


@router.get("/conversations/{conversation_id}")
async def conversation(
    conversation_id: str, agent: Agent, runtime: RuntimeDep, files: Files
) -> Response:
    """The conversation with its handover note, messages (route, intent, rating, the images
    the customer sent), notes and tickets."""
    view = await runtime.agents.view(agent, conversation_id)
    sent = await files.for_messages([m.id for m in view.messages])
    return json_response(
        {
            **conversation_state_json(view.conversation),
            "app": view.app,
            "user": view.user,
            "name": view.conversation.name,
            "handoff_note": view.conversation.handoff_note,
            "messages": [
                {
                    **message_view_json(m),
                    "message_files": [message_file_json(f, True) for f in sent.get(m.id, ())],
                }
                for m in view.messages
            ],
            "notes": [note_json(n) for n in view.notes],
            "tickets": [ticket_json(t) for t in view.tickets],
        }
    )


@router.get("/files/{file_id}")
async def sent_file(file_id: str, agent: Agent, runtime: RuntimeDep, files: Files) -> Response:
    """An image a customer sent, for an agent who may see that conversation."""
    record, path = await files.sent_file(file_id)
    await runtime.agents.view(agent, record.conversation_id or "")  # 404/403 as for the view
    return FileResponse(
        path,
        media_type=record.mime_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/messages/{message_id}/trace")
async def message_trace(message_id: str, agent: Agent, runtime: RuntimeDep) -> Response:
    """A bot answer's trace: route, intent, sources, timings, tokens."""
    trace = await runtime.agents.trace(agent, message_id)
    return json_response(
        {
            "message_id": trace.message_id,
            "trace_id": trace.trace_id,
            "created_at": int(trace.created_at.timestamp()),
            **trace.data,
        }
    )


@router.post("/conversations/{conversation_id}/save-answer", status_code=201)
async def save_answer(
    conversation_id: str, body: PromoteIn, agent: Agent, runtime: RuntimeDep
) -> Response:
    """Publish an answer from this hand-over (typically the agent's reply to the customer's
    question) as an FAQ entry or annotation of the conversation's app, as the knowledge
    loop does; the unanswered questions it now answers leave the gap report."""
    app = await runtime.agents.conversation_app(agent, conversation_id)
    promoted = await runtime.knowledge_loop.promote(
        app, body.question, body.answer, body.variants, body.kind
    )
    return json_response(promoted_json(promoted), status_code=201)


@router.post("/conversations/{conversation_id}/claim")
async def claim(conversation_id: str, agent: Agent, runtime: RuntimeDep) -> Response:
    moved = await runtime.agents.claim(agent, conversation_id)
    return json_response(conversation_state_json(moved))


@router.post("/conversations/{conversation_id}/reply")
async def reply(conversation_id: str, body: TextIn, agent: Agent, runtime: RuntimeDep) -> Response:
    """Send the customer a message (replying to a waiting conversation claims it)."""
    message = await runtime.agents.reply(agent, conversation_id, body.text)
    return json_response(message_view_json(message))


@router.post("/conversations/{conversation_id}/notes", status_code=201)
async def add_note(
    conversation_id: str, body: TextIn, agent: Agent, runtime: RuntimeDep
) -> Response:
    """An internal note: other agents see it, the customer never does."""
    note = await runtime.agents.add_note(agent, conversation_id, body.text)
    return json_response(note_json(note), status_code=201)


@router.post("/conversations/{conversation_id}/transfer")
async def transfer(
    conversation_id: str, body: TransferIn, agent: Agent, runtime: RuntimeDep
) -> Response:
    moved = await runtime.agents.transfer(agent, conversation_id, body.agent_id)
    return json_response(conversation_state_json(moved))


@router.post("/conversations/{conversation_id}/resolve")
async def resolve(conversation_id: str, agent: Agent, runtime: RuntimeDep) -> Response:
    """Done: the bot answers the customer's next message; the customer may rate you."""
    moved = await runtime.agents.resolve(agent, conversation_id)
    return json_response(conversation_state_json(moved))


@router.post("/tickets", status_code=201)
async def create_ticket(body: TicketIn, agent: Agent, runtime: RuntimeDep) -> Response:
    fields = body.model_dump(exclude={"conversation_id", "app"})
    ticket = await runtime.agents.create_ticket(
        agent, conversation_id=body.conversation_id, app=body.app, fields=fields
    )
    return json_response(ticket_json(ticket), status_code=201)


@router.get("/tickets")
async def list_tickets(
    agent: Agent,
    runtime: RuntimeDep,
    status: Literal["open", "pending", "solved", "closed"] | None = None,
    mine: bool = False,
    limit: Limit = 100,
) -> Response:
    tickets = await runtime.agents.tickets(agent, status=status, mine=mine, limit=limit)
    return json_response({"data": [ticket_json(t) for t in tickets]})


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: str, agent: Agent, runtime: RuntimeDep) -> Response:
    return json_response(ticket_json(await runtime.agents.ticket(agent, ticket_id)))


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: str, body: TicketPatch, agent: Agent, runtime: RuntimeDep
) -> Response:
    """Change fields; ``assignee_id: null`` unassigns, a field left out stays as it is."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    ticket = await runtime.agents.update_ticket(agent, ticket_id, changes)
    return json_response(ticket_json(ticket))
