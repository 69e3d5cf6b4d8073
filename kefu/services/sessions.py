"""Chat-page sessions: a short-lived signed token per page visitor, bound to one public app
and one user id that kefu generated.

The page (and an embeddable widget) cannot hold a secret, so it cannot hold an app key: it
gets a session instead. A session is a JWT signed with HS256 under a key derived from the
server secret (``KEFU_SECRET_KEY`` or ``<data dir>/secret.key``), so any replica sharing the
secret accepts it and no table is needed. It names the app and the visitor's user id; the
service API lets it reach that visitor's conversations and the chat endpoints only
(:mod:`kefu.api.deps`). It expires after ``KEFU_PAGE_SESSION_TTL_S``; the page renews it with the
old token (same user, new expiry) up to ``KEFU_PAGE_SESSION_MAX_AGE_S`` after the first one, after
which the visitor starts over as a new user.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from kefu.core.errors import Unauthorized

__all__ = ["PageSession", "PageSessions", "looks_like_session"]

_AUDIENCE = "kefu-page"
_ALGORITHM = "HS256"


def looks_like_session(token: str) -> bool:
    """Whether a bearer token is a session (a JWT: three dot-separated parts); keys
    (``app-…``) never contain a dot."""
    return token.count(".") == 2


@dataclass(frozen=True, slots=True)
class PageSession:
    """A verified session: which app, which visitor, until when."""

    app: str
    user: str
    session_id: str
    expires_at: int
    first_issued_at: int


class PageSessions:
    """Issues, renews and verifies page sessions."""

    def __init__(
        self,
        server_secret: bytes,
        *,
        ttl_s: int,
        max_age_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A key of its own, so a session signature can never double as a stored key's HMAC.
        self._key = hmac.new(server_secret, b"kefu page session v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self.max_age_s = max_age_s
        self._clock = clock

    def issue(self, app: str, previous: str | None = None) -> tuple[str, PageSession]:
        """A new session for ``app``: the visitor of ``previous`` (a renewal) when that token
        is ours, for this app and not past its maximum age; else a new visitor."""
        now = int(self._clock())
        old = self._renewable(previous, app, now) if previous else None
        user = old.user if old else "web-" + secrets.token_urlsafe(16)
        first = old.first_issued_at if old else now
        session = PageSession(
            app=app,
            user=user,
            session_id=secrets.token_urlsafe(12),
            expires_at=min(now + self.ttl_s, first + self.max_age_s),
            first_issued_at=first,
        )
        claims = {
            "aud": _AUDIENCE,
            "app": app,
            "sub": user,
            "sid": session.session_id,
            "iat": now,
            "exp": session.expires_at,
            "first": first,
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM), session

    def verify(self, token: str) -> PageSession:
        """The session ``token`` carries; ``Unauthorized`` when it is forged or expired."""
        claims = self._decode(token, verify_exp=True)
        if claims is None:
            raise Unauthorized("The page session is invalid or expired; open a new one.")
        return _session(claims)

    def _renewable(self, token: str, app: str, now: int) -> PageSession | None:
        claims = self._decode(token, verify_exp=False)
        if claims is None:
            return None
        session = _session(claims)
        if session.app != app or now >= session.first_issued_at + self.max_age_s:
            return None
        return session

    def _decode(self, token: str, *, verify_exp: bool) -> dict[str, Any] | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=_AUDIENCE,
                options={"require": ["exp", "sub", "app", "sid"], "verify_exp": verify_exp},
            )
        except jwt.PyJWTError:
            return None
        for name in ("sub", "app", "sid"):
            if not isinstance(claims.get(name), str):
                return None
        if not isinstance(claims.get("first"), int):
            return None
        return claims


def _session(claims: dict[str, Any]) -> PageSession:
    return PageSession(
        app=claims["app"],
        user=claims["sub"],
        session_id=claims["sid"],
        expires_at=int(claims["exp"]),
        first_issued_at=int(claims["first"]),
    )
