"""Admin API (``Authorization: Bearer <KEFU_ADMIN_KEY>``): apps, knowledge, traces."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import Response

from kefu.api.deps import AdminAuth, RuntimeDep
from kefu.api.responses import json_response

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminAuth])


@router.get("/apps")
async def list_apps(runtime: RuntimeDep) -> Response:
    return json_response(
        {
            "data": [
                {
                    "id": app.id,
                    "name": app.name,
                    "title": app.config.display_title(),
                    "language": app.config.language,
                    "knowledge_revision": app.knowledge_revision,
                }
                for app in runtime.apps.all()
            ]
        }
    )


@router.get("/apps/{name}/documents")
async def list_documents(name: str, runtime: RuntimeDep) -> Response:
    app = runtime.apps.get(name)
    documents = await to_thread.run_sync(runtime.store.knowledge.list_documents, app.id)
    return json_response(
        {
            "data": [
                {
                    "id": d.id,
                    "name": d.name,
                    "source": d.source,
                    "origin": d.origin,
                    "kind": d.kind,
                    "items": d.chunk_count,
                    "updated_at": int(d.updated_at.timestamp()),
                }
                for d in documents
            ]
        }
    )


@router.get("/messages/{message_id}/trace")
async def message_trace(message_id: str, runtime: RuntimeDep) -> Response:
    """Why a message was answered as it was: route, stages, timings, candidates, scores."""
    trace = await runtime.conversations.trace(message_id)
    return json_response(
        {
            "message_id": trace.message_id,
            "app_id": trace.app_id,
            "trace_id": trace.trace_id,
            "created_at": int(trace.created_at.timestamp()),
            **trace.data,
        }
    )
