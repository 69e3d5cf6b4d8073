"""Identifier helpers. End-user ids are derived, so the hot path never looks them up."""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["end_user_id", "hash_key", "new_id"]

_END_USER_NAMESPACE = uuid.UUID("6f1c1f0e-8a52-4b8e-9a3e-2f7b6c1d9e40")


def new_id() -> str:
    return str(uuid.uuid4())


def end_user_id(app_id: str, external_id: str) -> str:
    """The stable id of an app's end user named ``external_id`` (the API's ``user`` field)."""
    return str(uuid.uuid5(_END_USER_NAMESPACE, f"{app_id}\x00{external_id}"))


def hash_key(plaintext: str) -> str:
    """API keys are stored as SHA-256: they are long random strings, so no salt/KDF needed."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()
