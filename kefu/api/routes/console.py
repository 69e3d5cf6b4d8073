"""The operator console at ``/console``: plain HTML/JS over the agent API."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from kefu.api.responses import page_response
from kefu.web import STATIC_DIR

__all__ = ["router"]

router = APIRouter(tags=["web"])


@router.get("/console", include_in_schema=False)
async def console_page() -> FileResponse:
    return page_response(STATIC_DIR / "console" / "index.html")
