"""The demo chat page at ``/`` and what it needs to talk to the service API."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from kefu.api.deps import RuntimeDep
from kefu.api.errors import error_body
from kefu.api.responses import json_response, page_response
from kefu.core.types import Language
from kefu.web import STATIC_DIR

LANGUAGES: tuple[Language, ...] = ("zh", "en")

__all__ = ["router"]

router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
async def chat_page() -> FileResponse:
    return page_response(STATIC_DIR / "index.html")


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/health")
async def health(runtime: RuntimeDep) -> Response:
    """Liveness: the process runs and serves HTTP. It touches nothing else (cheap enough for
    a probe every second); ``/ready`` checks the dependencies."""
    return json_response({"status": "ok", "apps": [app.name for app in runtime.apps.all()]})


@router.get("/ready")
async def ready(runtime: RuntimeDep) -> Response:
    """Readiness: 200 with each check when the database, Redis (if configured) and the remote
    models answer; 503 in the error envelope, with the same checks, when one does not or the
    process is draining."""
    report = await runtime.readiness.report()
    checks = {check.name: check.as_dict() for check in report.checks}
    if report.ready:
        return json_response({"status": "ready", "checks": checks})
    reasons = "; ".join(report.failures())
    body = error_body(503, "not_ready", f"not ready (未就绪): {reasons}")
    body["checks"] = checks
    body["draining"] = report.draining
    return json_response(body, status_code=503)


@router.get("/web/config")
async def web_config(runtime: RuntimeDep, app: str | None = Query(None)) -> Response:
    """The chat page's app and its page token (valid until the server restarts).

    The token is scoped like an app key to the end-user service API; the page keeps a
    random ``user`` id in the browser, as Dify's public web apps do. ``localized`` holds the
    title and opening statement in both UI languages, so the page follows its language toggle.
    """
    runtime_app = runtime.apps.get(app) if app else runtime.apps.all()[0]
    config = runtime_app.config
    opening = config.opening_statement
    return json_response(
        {
            "app": runtime_app.name,
            "title": config.display_title(),
            "language": config.language,
            "token": runtime_app.web_token,
            "localized": {
                "title": {lang: config.display_title(lang) for lang in LANGUAGES},
                "opening_statement": opening.model_dump() if opening else None,
            },
        }
    )
