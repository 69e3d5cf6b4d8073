"""Identifiers and the clock. End-user ids are derived, so the hot path never looks them up."""

from __future__ import annotations

import hashlib
import random
import re
import time
import uuid
from datetime import UTC, datetime

__all__ = ["end_user_id", "hash_key", "is_id", "new_id", "utcnow"]

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_END_USER_NAMESPACE = uuid.UUID("6f1c1f0e-8a52-4b8e-9a3e-2f7b6c1d9e40")


def new_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562).

    New rows land at the right edge of every primary-key index instead of on random
    pages, which keeps each group commit to a few pages. Ids are not secrets (every read
    checks app and user), so the random bits come from the fast PRNG, not ``os.urandom``.
    """
    millis = time.time_ns() // 1_000_000
    value = (millis & (1 << 48) - 1) << 80 | random.getrandbits(80)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    digits = f"{value:032x}"  # str(uuid.UUID(int=value)) without building the object
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def end_user_id(app_id: str, external_id: str) -> str:
    """The stable id of an app's end user named ``external_id`` (the API's ``user`` field)."""
    return str(uuid.uuid5(_END_USER_NAMESPACE, f"{app_id}\x00{external_id}"))


def hash_key(plaintext: str) -> str:
    """API keys are stored as SHA-256: they are long random strings, so no salt/KDF needed."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def is_id(value: str | None) -> bool:
    """Whether ``value`` has the shape of a kefu id; anything else cannot name a row, so
    callers answer "not found" without sending arbitrary text to the database."""
    return value is not None and _ID.fullmatch(value) is not None


def utcnow() -> datetime:
    """Now, in UTC: every stored time is UTC."""
    return datetime.now(UTC)
