"""Admin API (``Authorization: Bearer <KEFU_ADMIN_KEY>``): apps, keys, knowledge, traces,
audit log, retention. App and dataset keys are refused here."""

from __future__ import annotations

from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import Response

from kefu.api.deps import AdminAuth, RuntimeDep
from kefu.api.responses import json_response
from kefu.api.schemas import StrictBody
from kefu.core.records import ApiKeyRecord
from kefu.services.admin import ADMIN_ACTOR

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


class KeyIn(StrictBody):
    kind: Literal["app", "dataset"] = "app"


def key_json(key: ApiKeyRecord, plaintext: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "id": key.id,
        "kind": key.kind,
        "prefix": key.prefix,
        "created_at": int(key.created_at.timestamp()),
        "revoked": key.revoked,
    }
    if plaintext is not None:
        body["key"] = plaintext  # shown once; only its hash is stored
    return body


@router.get("/apps/{name}/keys")
async def list_keys(name: str, runtime: RuntimeDep) -> Response:
    """The app's keys, by prefix only."""
    keys = await runtime.admin.list_keys(name)
    return json_response({"data": [key_json(k) for k in keys]})


@router.post("/apps/{name}/keys", status_code=201)
async def create_key(name: str, body: KeyIn, runtime: RuntimeDep) -> Response:
    key, plaintext = await runtime.admin.create_key(name, body.kind, ADMIN_ACTOR)
    return json_response(key_json(key, plaintext), status_code=201)


@router.post("/apps/{name}/keys/{key_id}/rotate")
async def rotate_key(name: str, key_id: str, runtime: RuntimeDep) -> Response:
    """A new key of the same kind; the old one stops working at once."""
    key, plaintext = await runtime.admin.rotate_key(name, key_id, ADMIN_ACTOR)
    return json_response(key_json(key, plaintext))


@router.delete("/apps/{name}/keys/{key_id}")
async def revoke_key(name: str, key_id: str, runtime: RuntimeDep) -> Response:
    await runtime.admin.revoke_key(name, key_id, ADMIN_ACTOR)
    return json_response({"result": "success"})


@router.get("/audit")
async def audit_log(
    runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> Response:
    entries = await runtime.admin.audit_log(limit)
    return json_response(
        {
            "data": [
                {
                    "id": e.id,
                    "at": int(e.at.timestamp()),
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "details": e.details,
                }
                for e in entries
            ]
        }
    )


@router.post("/retention/run")
async def run_retention(runtime: RuntimeDep) -> Response:
    """Apply every app's ``security.retention_days`` now (it also runs hourly)."""
    return json_response({"deleted": await runtime.admin.run_retention(ADMIN_ACTOR)})
