"""Request dependencies: the runtime, and who is calling (app key, page session, verified
user, dataset key, admin key), within their rate limits.

Who may do what is in docs/security.md. In short: an app key (the integrator's backend)
reaches its app's service API for the users it names — or, when the app requires it, only
for users it proves (a signed identity); a page session reaches the chat endpoints for its
own visitor only; a dataset key reaches the knowledge API; the admin key the admin API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from kefu.core.errors import Forbidden, InvalidParam, NotFound, TooManyRequests, Unauthorized
from kefu.core.ids import new_id
from kefu.observability import metrics
from kefu.safety.rate_limit import RateLimits
from kefu.services.identity import IdentityVerifier
from kefu.services.registry import AppRuntime
from kefu.services.runtime import Runtime
from kefu.services.sessions import looks_like_session

__all__ = [
    "AdminAuth",
    "AppKeyAuth",
    "Caller",
    "ChatCaller",
    "DatasetAuth",
    "KeyCaller",
    "Page",
    "RuntimeDep",
    "bearer_token",
    "check_origin",
    "client_ip",
    "get_runtime",
    "limit",
]

USER_TOKEN_HEADER = "x-kefu-user-token"
USER_SIGNATURE_HEADER = "x-kefu-user-signature"
ANONYMOUS_PREFIX = "anon-"


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


# Dependencies are ``async def``: FastAPI runs plain ``def`` ones in a thread pool, which
# costs more than the work they do.
async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# A list's page (1 on): bounded, so that its offset never overflows the database's integer
Page = Annotated[int, Query(ge=1, le=100_000)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
    return token


_LIMITED = {
    "key": "with this key",
    "verified_user": "for this user",
    "session": "from this page session",
    "ip": "from this address",
}


def limit(limits: RateLimits, key: str, rate: float, burst: int, what: str) -> None:
    """Take a token from ``key``'s bucket (``what``: key, verified_user, session, ip), or
    refuse with 429 and how long to wait."""
    if not rate:
        return
    wait = limits.take(key, rate, burst)
    if wait:
        metrics.rate_limited(what)
        raise TooManyRequests(f"Too many requests {_LIMITED[what]}; slow down.", wait)


def client_ip(request: Request) -> str:
    """The client's address (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else "unknown"


def check_origin(request: Request, app: AppRuntime) -> None:
    """A browser request from another site must come from one of the app's allowed origins.
    A request without ``Origin`` (not from a browser script) or from kefu's own host passes."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin.partition("://")[2] == host or origin in app.config.web.allowed_origins:
        return
    raise Forbidden(f"Origin {origin} may not use app {app.name!r}; see web.allowed_origins.")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling the service API: which app, through what, and whose identity is proven.

    ``user(claimed)`` is the end user the request acts for: a session's visitor or a verified
    identity (a different ``user`` in the request is refused), else the ``user`` the app key
    names — refused when the app requires proof.
    """

    app: AppRuntime
    via: Literal["key", "session"]
    limits: RateLimits
    proven_user: str | None = None  # the session's visitor, or the sub of a verified JWT
    signature: str | None = None  # X-Kefu-User-Signature, checked against the claimed user
    identity: IdentityVerifier | None = None

    def user(self, claimed: str | None, *, anonymous: bool = False) -> str:
        """The end user; ``anonymous``: without one, a fresh user of this request alone (its
        conversations cannot be listed by anyone, OpenAI calls without ``user``)."""
        claimed = claimed or None
        if self.proven_user is not None:
            if claimed is not None and claimed != self.proven_user:
                who = "page session" if self.via == "session" else "signed identity"
                raise Forbidden(f"user does not match the {who} of this request")
            return self.proven_user
        if self.signature is not None:
            if claimed is None:
                raise InvalidParam("user is required next to X-Kefu-User-Signature")
            if self.identity is None:
                raise Unauthorized("This app has no identity secret (security.identity).")
            self.identity.check_signature(claimed, self.signature)
            self._limit_verified(claimed)
            return claimed
        if claimed is None and anonymous:
            return ANONYMOUS_PREFIX + new_id()
        if self.identity is not None and self.identity.required:
            raise Unauthorized(
                "This app requires a signed user identity: send X-Kefu-User-Token (a JWT) or "
                "X-Kefu-User-Signature (an HMAC of user) from your backend."
            )
        if claimed is None:
            raise InvalidParam("user is required: an identifier of the end user")
        return claimed

    def _limit_verified(self, user: str) -> None:
        if self.identity is not None:
            config = self.identity.config
            key = f"verified:{self.app.id}:{user}"
            limit(self.limits, key, config.rate_per_s, config.burst, "verified_user")


def _caller(request: Request, *, sessions: bool) -> Caller:
    runtime = runtime_of(request)
    headers = request.headers
    token = bearer_token(request)
    if looks_like_session(token):
        if not sessions:
            raise Forbidden("A page session can use the chat endpoints only.")
        return _session_caller(request, runtime, token)
    app, key_id = _keyed_app(runtime, token, ("app",), "this key cannot use the service API")
    _limit_key(runtime, app, key_id)
    identity = runtime.apps.identity(app)
    caller = Caller(app, "key", runtime.limits, identity=identity)
    user_token = headers.get(USER_TOKEN_HEADER)
    signature = headers.get(USER_SIGNATURE_HEADER)
    if user_token is None and signature is None:
        return caller
    if identity is None:
        raise Unauthorized("This app accepts no signed identities (security.identity).")
    if user_token is not None:
        user = identity.user_of_token(user_token)
        proven = Caller(app, "key", runtime.limits, proven_user=user, identity=identity)
        proven._limit_verified(user)
        return proven
    return Caller(app, "key", runtime.limits, signature=signature, identity=identity)


def _session_caller(request: Request, runtime: Runtime, token: str) -> Caller:
    settings = runtime.settings
    limit(
        runtime.limits, f"ip:{client_ip(request)}", settings.ip_rate_per_s, settings.ip_burst, "ip"
    )
    session = runtime.sessions.verify(token)
    try:
        app = runtime.apps.get(session.app)
    except NotFound:
        raise Unauthorized("The page session's app is not served here.") from None
    web = app.config.web
    if not web.public:
        raise Unauthorized(f"App {app.name!r} has no public page.")
    check_origin(request, app)
    limit(
        runtime.limits,
        f"session:{session.session_id}",
        web.session_rate_per_s,
        web.session_burst,
        "session",
    )
    return Caller(app, "session", runtime.limits, proven_user=session.user)


async def chat_caller(request: Request) -> Caller:
    """An app key or a page session: the chat endpoints and the visitor's conversations."""
    return _caller(request, sessions=True)


async def key_caller(request: Request) -> Caller:
    """An app key only (the OpenAI-compatible API: for backends, not pages)."""
    return _caller(request, sessions=False)


async def app_from_app_key(request: Request) -> AppRuntime:
    """The app of a service-API key (``app-…``) only: a page session may not manage the app
    (annotations)."""
    if looks_like_session(bearer_token(request)):
        raise Forbidden("only an app key (app-…) can manage annotations")
    return _limited_key_app(request, ("app",), "only an app key (app-…) can manage annotations")


async def app_from_dataset_key(request: Request) -> AppRuntime:
    """The app whose knowledge a dataset key (``dataset-…``) manages."""
    if looks_like_session(bearer_token(request)):
        raise Forbidden("the knowledge API takes a dataset key (dataset-…)")
    return _limited_key_app(
        request, ("dataset",), "the knowledge API takes a dataset key (dataset-…)"
    )


def _limited_key_app(request: Request, kinds: tuple[str, ...], refusal: str) -> AppRuntime:
    runtime = runtime_of(request)
    app, key_id = _keyed_app(runtime, bearer_token(request), kinds, refusal)
    _limit_key(runtime, app, key_id)
    return app


def _limit_key(runtime: Runtime, app: AppRuntime, key_id: str) -> None:
    """The key's bucket: the app's ``security.key_rate_per_s``, else the server default."""
    security, settings = app.config.security, runtime.settings
    rate = security.key_rate_per_s
    burst = security.key_burst
    limit(
        runtime.limits,
        f"key:{key_id}",
        settings.key_rate_per_s if rate is None else rate,
        settings.key_burst if burst is None else burst,
        "key",
    )


def _keyed_app(
    runtime: Runtime, token: str, kinds: tuple[str, ...], refusal: str
) -> tuple[AppRuntime, str]:
    credential = runtime.apps.authenticate(token)
    if credential is None:
        raise Unauthorized("Access token is invalid")
    if credential.kind not in kinds:
        raise Forbidden(refusal)
    return credential.app, credential.key_id


async def require_admin(request: Request) -> None:
    runtime = runtime_of(request)
    if not runtime.is_admin_key(bearer_token(request)):
        raise Unauthorized("Access token is invalid")


ChatCaller = Annotated[Caller, Depends(chat_caller)]
KeyCaller = Annotated[Caller, Depends(key_caller)]
AppKeyAuth = Annotated[AppRuntime, Depends(app_from_app_key)]
DatasetAuth = Annotated[AppRuntime, Depends(app_from_dataset_key)]
AdminAuth = Depends(require_admin)
