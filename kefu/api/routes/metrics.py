"""``GET /metrics``: Prometheus' text format (see docs/operations.md).

On the API port it takes the admin key (``KEFU_METRICS_AUTH=admin``, the default) or no key
(``none``, for a port only the scraper reaches); with ``KEFU_METRICS_PORT`` the metrics have
their own listener instead (:func:`kefu.api.app.create_app`) and this route is not mounted.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from kefu.api.deps import require_admin, runtime_of
from kefu.observability import metrics

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    if runtime_of(request).settings.metrics_auth == "admin":
        await require_admin(request)
    # Merging worker processes' files (PROMETHEUS_MULTIPROC_DIR) reads the disk.
    body = await to_thread.run_sync(metrics.exposition)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)
