"""Images customers send: ``POST /v1/files/upload`` and ``GET /v1/files/{id}/preview``
(Dify's); agents open them with ``GET /v1/agent/files/{id}`` (:mod:`kefu.api.routes.agents`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse, Response

from kefu.api.deps import ChatCaller, RuntimeDep
from kefu.api.errors import ApiError
from kefu.api.responses import json_response
from kefu.core.file_records import FileRecord
from kefu.services.chat_files import ChatFiles, UnsupportedFile
from kefu.services.runtime import Runtime

__all__ = ["Files", "chat_files", "chat_files_of", "file_json", "message_file_json", "router"]

router = APIRouter(tags=["files"])


def chat_files_of(runtime: Runtime) -> ChatFiles:
    settings = runtime.settings
    return ChatFiles(runtime.store, settings.data_dir, settings.max_image_bytes)


async def chat_files(runtime: RuntimeDep) -> ChatFiles:
    # async: FastAPI runs a plain ``def`` dependency on a worker thread, a thread hop per
    # request for a constructor that never blocks.
    return chat_files_of(runtime)


Files = Annotated[ChatFiles, Depends(chat_files)]


def file_json(file: FileRecord, user: str) -> dict[str, Any]:
    """Dify's upload answer."""
    return {
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "extension": file.extension,
        "mime_type": file.mime_type,
        "created_by": user,
        "created_at": int(file.created_at.timestamp()),
    }


def message_file_json(file: FileRecord, agent_view: bool = False) -> dict[str, Any]:
    """Dify's ``message_files`` item. The customer's client gets no URL for an upload (it
    has the image); an agent gets the link its key can open."""
    url = file.url
    if file.transfer_method == "local_file":
        url = f"/v1/agent/files/{file.id}" if agent_view else None
    return {
        "id": file.id,
        "type": "image",
        "transfer_method": file.transfer_method,
        "url": url,
        "name": file.name,
        "mime_type": file.mime_type or None,
        "belongs_to": "user",
    }


@router.post("/v1/files/upload", status_code=201)
async def upload_file(
    caller: ChatCaller,
    files: Files,
    file: Annotated[UploadFile, File(description="png, jpeg, gif or webp")],
    claimed: Annotated[str | None, Form(alias="user")] = None,
) -> Response:
    """Upload an image the customer sends with their next message (``user``: the end user,
    implied by a page session)."""
    app, user = caller.app, caller.user(claimed)
    # Read one byte past the limit: enough to refuse, without holding a huge body.
    content = await file.read(files.max_bytes + 1)
    try:
        record = await files.upload(app, user, file.filename or "", content)
    except UnsupportedFile as exc:
        raise ApiError(415, exc.code, exc.message) from exc
    return json_response(file_json(record, user), status_code=201)


@router.get("/v1/files/{file_id}/preview")
async def preview_file(
    file_id: str,
    caller: ChatCaller,
    files: Files,
    as_attachment: bool = False,
) -> Response:
    """An image uploaded to this app (Dify's file preview), for the client that sent it."""
    record, path = await files.uploaded_file(caller.app, file_id)
    return FileResponse(
        path,
        media_type=record.mime_type,
        filename=record.name if as_attachment else None,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
