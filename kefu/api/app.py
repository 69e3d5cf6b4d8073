"""The FastAPI application: routes, error envelope, guards, background upkeep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from wsgiref.simple_server import WSGIServer

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import kefu
from kefu.api.chat_shortcut import ChatShortcut
from kefu.api.errors import install_error_handlers
from kefu.api.middleware import RequestGuard
from kefu.api.observe import RequestObserver
from kefu.api.responses import StaticPages
from kefu.api.routes import (
    admin,
    admin_agents,
    agents,
    analytics,
    app_annotations,
    app_info,
    channels,
    chat,
    console,
    conversations,
    datasets,
    events,
    files,
    follow_up,
    handoff,
    knowledge_gaps,
    metrics,
    openai,
    web,
)
from kefu.channels.hub import ChannelHub
from kefu.core.settings import Settings
from kefu.observability import metrics as recorded
from kefu.observability.tracing import configure_tracing
from kefu.services.runtime import Runtime
from kefu.web import STATIC_DIR

__all__ = ["create_app"]

log = logging.getLogger(__name__)
KNOWLEDGE_POLL_SECONDS = 2.0
RETENTION_EVERY_SECONDS = 3600.0


async def _watch_knowledge(runtime: Runtime) -> None:
    """Pick up knowledge another process changed (``kefu kb import``) within seconds."""
    while True:
        await asyncio.sleep(KNOWLEDGE_POLL_SECONDS)
        try:
            await to_thread.run_sync(runtime.apps.refresh_knowledge)
        except Exception:
            log.exception("knowledge refresh failed; will retry")


async def _apply_retention(runtime: Runtime) -> None:
    while True:
        try:
            await runtime.admin.run_retention("retention-job")
        except Exception:
            log.exception("retention failed; will retry")
        await asyncio.sleep(RETENTION_EVERY_SECONDS)


def create_app(runtime: Runtime, *, close_runtime: bool = True) -> FastAPI:
    """Build the HTTP app around an already-built runtime."""

    settings = runtime.settings
    recorded.configure(enabled=settings.metrics)
    hub = ChannelHub(runtime)  # a channel's settings mistake stops the start, as a config error

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs = [asyncio.create_task(_watch_knowledge(runtime))]
        if any(app.config.security.retention_days for app in runtime.apps.all()):
            jobs.append(asyncio.create_task(_apply_retention(runtime)))
        tracer_provider = configure_tracing(settings.otel_endpoint, settings.otel_service_name)
        metrics_server = _serve_metrics(settings)
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            if tracer_provider is not None:
                await to_thread.run_sync(tracer_provider.shutdown)  # sends what is queued
            for job in jobs:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            await hub.aclose()
            await runtime.aclose_models()
            if close_runtime:
                runtime.close()

    app = FastAPI(
        title="kefu",
        version=kefu.__version__,
        description="kefu 客服 — self-hosted AI customer service. Dify-compatible service API, "
        "OpenAI-compatible chat completions, admin API.",
        lifespan=lifespan,
        telemetry={
            "tracing": runtime.settings.otel,
            "metrics": runtime.settings.otel,
            "logs": runtime.settings.otel,
        },
    )
    app.state.runtime = runtime
    app.state.channels = hub
    install_error_handlers(app)
    for module in (chat, conversations, handoff, app_info, openai, admin, admin_agents, agents):
        app.include_router(module.router)
    app.include_router(files.router)  # images customers send
    app.include_router(follow_up.router)  # suggested questions, variables, app feedbacks
    for module in (datasets, app_annotations, knowledge_gaps, analytics):  # curation, insight
        app.include_router(module.router)
    app.include_router(channels.router)  # WeCom, Feishu, webhooks (docs/channels.md)
    app.include_router(events.router)  # proactive offers of help (docs/proactive.md)
    for module in (web, console):
        app.include_router(module.router)
    if settings.metrics and settings.metrics_port is None:
        app.include_router(metrics.router)
    app.mount("/static", StaticPages(directory=STATIC_DIR), name="static")
    if not settings.otel:
        # Innermost of kefu's middleware: a well-formed chat message skips FastAPI's routing
        # and dependency solving (kefu.api.chat_shortcut); with FastAPI's OpenTelemetry on,
        # every message goes through FastAPI, for its per-endpoint spans.
        app.add_middleware(
            ChatShortcut,
            exception_handlers=app.exception_handlers,
            app_dependencies=app.router.dependencies,
        )
    origins = sorted(
        {o for a in runtime.apps.all() for o in a.config.security.cors_origins}
        | {o for a in runtime.apps.public() for o in a.config.web.allowed_origins}
    )
    if origins:
        # One CORS policy for the process: the union of the apps' origins (a preflight
        # request carries no key, so it cannot be told which app it is for). A page session
        # is checked against its own app's web.allowed_origins (kefu.api.deps.check_origin).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Kefu-User-Token",
                "X-Kefu-User-Signature",
            ],
            max_age=600,
        )
    app.add_middleware(
        RequestGuard,
        max_body_bytes=runtime.settings.max_body_bytes,
        max_upload_bytes=runtime.settings.max_upload_bytes,
        json_prefixes=("/v1", "/admin"),
        body_timeout_s=runtime.settings.body_timeout_s,
    )
    app.add_middleware(RequestObserver)  # outermost: it sees the guards' refusals too
    return app


def _serve_metrics(settings: Settings) -> WSGIServer | None:
    """``/metrics`` on its own port (``KEFU_METRICS_PORT``), without a key: for a port that
    only the scraper can reach. Returns the server to shut down."""
    if not settings.metrics or settings.metrics_port is None:
        return None
    server = recorded.serve_on_port(settings.metrics_port, settings.metrics_host)
    log.info("metrics at http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server
