"""Admin API for the human side: agents and their keys, satisfaction ratings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from kefu.api.deps import AdminAuth, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.schemas import StrictBody
from kefu.api.wire import agent_json
from kefu.core.handoff_records import AgentRecord
from kefu.services.admin import ADMIN_ACTOR

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminAuth])


class AgentIn(StrictBody):
    name: str = Field(min_length=1, max_length=64)
    apps: list[str] = Field(
        default_factory=list,
        description='the apps it serves (required); ["*"] for every app, present and future',
    )


def created_json(agent: AgentRecord, key: str) -> dict[str, object]:
    return {**agent_json(agent), "key": key}  # shown once; only its hash is stored


@router.get("/agents")
async def list_agents(runtime: RuntimeDep) -> Response:
    agents = await runtime.agents.all_agents()
    return json_response({"data": [agent_json(a) for a in agents]})


@router.post("/agents", status_code=201)
async def create_agent(body: AgentIn, runtime: RuntimeDep) -> Response:
    """A new agent and its ``agent-…`` key (shown once)."""
    agent, key = await runtime.agents.create_agent(body.name, body.apps, ADMIN_ACTOR)
    return json_response(created_json(agent, key), status_code=201)


@router.post("/agents/{agent_id}/key")
async def rotate_agent_key(agent_id: str, runtime: RuntimeDep) -> Response:
    """A new key for the agent; the old one stops working at once."""
    agent, key = await runtime.agents.rotate_agent_key(agent_id, ADMIN_ACTOR)
    return json_response(created_json(agent, key))


@router.delete("/agents/{agent_id}")
async def disable_agent(agent_id: str, runtime: RuntimeDep) -> Response:
    """Revoke the agent's key; its replies stay in the conversations."""
    await runtime.agents.disable_agent(agent_id, ADMIN_ACTOR)
    return json_response({"result": "success"})


@router.get("/csat")
async def list_csat(
    runtime: RuntimeDep,
    app: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Satisfaction ratings, newest first, each with the agent it rates."""
    ratings = await runtime.agents.csat(app, limit)
    return json_response({"data": [r.as_dict() for r in ratings]})
