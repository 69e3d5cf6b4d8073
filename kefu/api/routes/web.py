"""The demo chat page at ``/`` and what it needs to talk to the service API."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from dataclasses import dataclass
from functools import cache

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import Field

from kefu.api.deps import RuntimeDep, check_origin, client_ip, limit
from kefu.api.errors import error_body
from kefu.api.responses import json_response, page_response
from kefu.api.schemas import Body
from kefu.appfile.widget_config import WidgetConfig
from kefu.core.errors import Forbidden, NotFound
from kefu.core.types import Language
from kefu.services.registry import AppRuntime
from kefu.services.runtime import Runtime
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


class SessionIn(Body):
    app: str | None = Field(None, max_length=255, description="a public app (default: the first)")


def public_app(runtime: Runtime, name: str | None) -> AppRuntime:
    """A public app by name, or the first one; a private app is as unknown as a missing one."""
    apps = runtime.apps.public()
    if name is None and apps:
        return apps[0]
    for app in apps:
        if app.name == name:
            return app
    raise NotFound(f"no public app named {name!r}" if name else "no app has a public page")


@router.get("/web/config")
async def web_config(
    request: Request, runtime: RuntimeDep, app: str | None = Query(None, max_length=255)
) -> Response:
    """A public app's title, language, opening statement and widget theme, for its chat page
    and its widget.

    Only apps whose file says ``web: {public: true}`` are listed; the page then opens a
    session (``POST /web/session``). ``localized`` holds the title and opening statement in
    both UI languages, so the page follows its language toggle. Any site may read it (it
    holds nothing that is not public); ``origin_allowed`` tells a widget whether the site it
    runs on may open sessions, so on a site not in ``web.allowed_origins`` it stays hidden at
    once instead of retrying a refused request.
    """
    runtime_app = public_app(runtime, app)
    config = runtime_app.config
    opening = config.opening_statement
    try:
        check_origin(request, runtime_app)
        origin_allowed = True
    except Forbidden:
        origin_allowed = False
    response = json_response(
        {
            "app": runtime_app.name,
            "title": config.display_title(),
            "language": config.language,
            "localized": {
                "title": {lang: config.display_title(lang) for lang in LANGUAGES},
                "opening_statement": opening.model_dump() if opening else None,
            },
            "widget": widget_json(config.web.widget),
            "origin_allowed": origin_allowed,
        }
    )
    # Public and read without credentials: readable from any site (an allowed origin gets
    # its own name back from the CORS middleware instead).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def widget_json(widget: WidgetConfig) -> dict[str, object]:
    """The widget's theme as ``/web/config`` gives it (``text_color`` is readable on
    ``color``)."""
    return {
        "color": widget.color,
        "text_color": widget.text_colour(),
        "logo": widget.logo,
        "position": widget.position,
        "greeting": widget.greeting.model_dump() if widget.greeting else None,
        "launcher_text": widget.launcher_text.model_dump() if widget.launcher_text else None,
    }


WIDGET_DIR = STATIC_DIR / "widget"
# The URL has no version in it (it is pasted into other sites once), so browsers keep it a
# few minutes and then revalidate it with the ETag.
WIDGET_CACHE = "public, max-age=300, stale-while-revalidate=86400"
_CSS_SLOT = "/*KEFU_WIDGET_CSS*/ ''"


@dataclass(frozen=True, slots=True)
class WidgetScript:
    """The served widget: plain and gzip-compressed bodies, and the ETag of the plain one."""

    body: bytes
    gzipped: bytes
    etag: str


@cache
def widget_script() -> WidgetScript:
    """widget.js with widget.css inlined (one request, and no ``<style>`` a strict host CSP
    would block: the script adopts it as a constructed stylesheet). Two source files kept
    apart for editing, joined by one replace here rather than a build step; compressed once
    (70 KB → 18 KB) because every page of every embedding site loads it."""
    script = (WIDGET_DIR / "widget.js").read_text(encoding="utf-8")
    css = (WIDGET_DIR / "widget.css").read_text(encoding="utf-8")
    body = script.replace(_CSS_SLOT, json.dumps(css), 1).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return WidgetScript(body, gzip.compress(body, compresslevel=9, mtime=0), etag)


@router.get("/widget.js", include_in_schema=False)
async def widget(request: Request) -> Response:
    """The embeddable chat widget: one ``<script src=".../widget.js" data-app="…">`` on any
    site in the app's ``web.allowed_origins`` (docs/channels.md)."""
    script = widget_script()
    headers = {
        "Cache-Control": WIDGET_CACHE,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Other sites load it: also those that isolate themselves (COEP) or check it with
        # Subresource Integrity (<script crossorigin integrity=…>).
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",
    }
    if script.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = script.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = script.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.post("/web/session")
async def web_session(
    request: Request, runtime: RuntimeDep, body: SessionIn | None = None
) -> Response:
    """A signed session for one page visitor of a public app (docs/security.md).

    With ``Authorization: Bearer <the previous session>`` it is renewed: same visitor, new
    expiry (up to ``KEFU_PAGE_SESSION_MAX_AGE_S`` after the first). Browsers on other sites may
    call it when their origin is in the app's ``web.allowed_origins`` (CORS).
    """
    settings = runtime.settings
    limit(
        runtime.limits, f"ip:{client_ip(request)}", settings.ip_rate_per_s, settings.ip_burst, "ip"
    )
    app = public_app(runtime, body.app if body else None)
    check_origin(request, app)
    header = request.headers.get("authorization", "")
    scheme, _, previous = header.partition(" ")
    token, session = runtime.sessions.issue(
        app.name, previous.strip() if scheme.lower() == "bearer" else None
    )
    return json_response(
        {
            "token": token,
            "app": app.name,
            "user": session.user,
            "expires_at": session.expires_at,
            # Shorter than the TTL when the visitor's maximum age comes first.
            "expires_in": max(0, session.expires_at - int(time.time())),
        }
    )
