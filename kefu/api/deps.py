"""Request dependencies: the runtime, and who is calling (app key, web token, admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kefu.core.errors import Forbidden, TooManyRequests, Unauthorized
from kefu.observability import metrics
from kefu.services.registry import AppRuntime
from kefu.services.runtime import Runtime

__all__ = [
    "AdminAuth",
    "AppAuth",
    "AppKeyAuth",
    "DatasetAuth",
    "RuntimeDep",
    "bearer_token",
    "get_runtime",
]


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, which
# costs more than the work they do.
async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
    return token


async def app_from_key(request: Request) -> AppRuntime:
    """The app a service-API key (``app-…``) or chat-page token (``web-…``) belongs to,
    within the app's per-key rate limit."""
    return _keyed_app(request, ("app", "web"), "this key cannot use the service API")


async def app_from_app_key(request: Request) -> AppRuntime:
    """The app of a service-API key (``app-…``) only: the public chat-page token may not
    manage the app (annotations)."""
    return _keyed_app(request, ("app",), "only an app key (app-…) can manage annotations")


async def app_from_dataset_key(request: Request) -> AppRuntime:
    """The app whose knowledge a dataset key (``dataset-…``) manages."""
    return _keyed_app(request, ("dataset",), "the knowledge API takes a dataset key (dataset-…)")


def _keyed_app(request: Request, kinds: tuple[str, ...], refusal: str) -> AppRuntime:
    runtime = runtime_of(request)
    credential = runtime.apps.authenticate(bearer_token(request))
    if credential is None:
        raise Unauthorized("Access token is invalid")
    if credential.kind not in kinds:
        raise Forbidden(refusal)
    security = credential.app.config.security
    if security.key_rate_per_s:
        wait = runtime.limits.take(
            f"key:{credential.key_id}", security.key_rate_per_s, security.key_burst
        )
        if wait:
            metrics.rate_limited("key")
            raise TooManyRequests("Too many requests with this key; slow down.", wait)
    return credential.app


async def require_admin(request: Request) -> None:
    runtime = runtime_of(request)
    if not runtime.is_admin_key(bearer_token(request)):
        raise Unauthorized("Access token is invalid")


AppAuth = Annotated[AppRuntime, Depends(app_from_key)]
AppKeyAuth = Annotated[AppRuntime, Depends(app_from_app_key)]
DatasetAuth = Annotated[AppRuntime, Depends(app_from_dataset_key)]
AdminAuth = Depends(require_admin)
