"""Signed end-user identities: the integrator's backend proves who its customer is.

A bare ``user`` is a claim anyone holding the app key can make. An app that configures
``security.identity`` also accepts proof, and with ``required: true`` accepts nothing else:

- ``X-Kefu-User-Signature: hex(HMAC-SHA256(secret, user))`` next to the ``user`` it signs
  (Intercom's and Crisp's "identity verification");
- ``X-Kefu-User-Token: <JWT>`` issued by the integrator's backend: ``sub`` is the user,
  ``exp`` is required; HS256 with the app's secret, RS256 with its public key (PyJWT).

The secret and key come from environment variables named in the app file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path

import jwt

from kefu.appfile.security_config import IdentityConfig
from kefu.core.errors import ConfigError, Unauthorized

__all__ = ["MIN_SECRET_BYTES", "IdentityVerifier"]

MIN_SECRET_BYTES = 32


class IdentityVerifier:
    """Checks the signed identities of one app's end users."""

    def __init__(
        self,
        config: IdentityConfig,
        *,
        secret: bytes | None,
        public_key: str | None,
    ) -> None:
        self.config = config
        self._secret = secret
        self._public_key = public_key
        self.required = config.required

    @classmethod
    def from_config(cls, config: IdentityConfig, app_file: str) -> IdentityVerifier | None:
        """The app's verifier, reading its secret and key now; None when none is configured.
        A named variable or file that is missing is a configuration error."""
        secret = _env(config.secret_env, "security.identity.secret_env", app_file)
        public_key = _env(
            config.jwt_public_key_env, "security.identity.jwt_public_key_env", app_file
        )
        if config.jwt_public_key_file is not None:
            try:
                public_key = Path(config.jwt_public_key_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the public key ({exc})",
                    file=app_file,
                    key="security.identity.jwt_public_key_file",
                ) from None
        if secret is not None and len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
            # HS256 with a shorter key is guessable offline from one token (RFC 7518 3.2).
            raise ConfigError(
                f"{config.secret_env} must hold at least {MIN_SECRET_BYTES} characters (random)",
                file=app_file,
                key="security.identity.secret_env",
            )
        if secret is None and public_key is None:
            return None
        return cls(config, secret=secret.encode("utf-8") if secret else None, public_key=public_key)

    def check_signature(self, user: str, signature: str) -> None:
        """``signature`` must be the hex HMAC-SHA256 of ``user`` with the app's secret."""
        if "hmac" not in self.config.methods or self._secret is None:
            raise Unauthorized("This app does not accept X-Kefu-User-Signature.")
        expected = hmac.new(self._secret, user.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.strip().lower()):
            raise Unauthorized("X-Kefu-User-Signature does not match this user.")

    def user_of_token(self, token: str) -> str:
        """The user a JWT from the integrator's backend names (its ``sub``)."""
        if "jwt" not in self.config.methods:
            raise Unauthorized("This app does not accept X-Kefu-User-Token.")
        try:
            algorithm = str(jwt.get_unverified_header(token).get("alg"))
        except jwt.PyJWTError:
            raise Unauthorized("X-Kefu-User-Token is not a JWT.") from None
        key: str | bytes | None
        if algorithm == "HS256":
            key = self._secret
        elif algorithm == "RS256":
            key = self._public_key
        else:
            key = None
        if key is None:
            raise Unauthorized(f"X-Kefu-User-Token: algorithm {algorithm!r} is not accepted.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.config.jwt_audience,
                issuer=self.config.jwt_issuer,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": self.config.jwt_audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("X-Kefu-User-Token has expired.") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"X-Kefu-User-Token is invalid: {exc}") from None
        # A token that lives for years is a password: refuse what outlives the configured age.
        if claims["exp"] - time.time() > self.config.max_token_age_s:
            raise Unauthorized("X-Kefu-User-Token expires too far in the future.")
        user = claims["sub"]
        if not isinstance(user, str) or not user:
            raise Unauthorized("X-Kefu-User-Token: sub must name the user.")
        return user


def _env(name: str | None, key: str, app_file: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set", file=app_file, key=key)
    return value
