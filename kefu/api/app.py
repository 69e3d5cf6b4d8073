"""The FastAPI application: routes, error envelope, guards, background upkeep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import kefu
from kefu.api.errors import install_error_handlers
from kefu.api.middleware import RequestGuard
from kefu.api.routes import admin, app_info, chat, conversations, openai, web
from kefu.engine.runtime import Runtime
from kefu.web import STATIC_DIR

__all__ = ["create_app"]

log = logging.getLogger(__name__)
KNOWLEDGE_POLL_SECONDS = 2.0


async def _watch_knowledge(runtime: Runtime) -> None:
    """Pick up knowledge another process changed (``kefu kb import``) within seconds."""
    while True:
        await asyncio.sleep(KNOWLEDGE_POLL_SECONDS)
        try:
            await to_thread.run_sync(runtime.apps.refresh_knowledge)
        except Exception:
            log.exception("knowledge refresh failed; will retry")


def create_app(runtime: Runtime, *, close_runtime: bool = True) -> FastAPI:
    """Build the HTTP app around an already-built runtime."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(_watch_knowledge(runtime))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
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
    install_error_handlers(app)
    for module in (chat, conversations, app_info, openai, admin, web):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        RequestGuard,
        max_body_bytes=runtime.settings.max_body_bytes,
        json_prefixes=("/v1", "/admin"),
    )
    return app
