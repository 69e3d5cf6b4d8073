"""The operator console at ``/console``: plain HTML/JS over the agent API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from kefu.web import STATIC_DIR

__all__ = ["router"]

router = APIRouter(tags=["web"])


@router.get("/console", include_in_schema=False)
async def console_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "console" / "index.html")
