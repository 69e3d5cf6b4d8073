"""How API keys are stored and shown: an HMAC with the server secret, and a short prefix.

A stored key is ``HMAC-SHA256(server secret, key)``: someone who reads the database (a
backup, a replica) cannot test guesses against it without the secret, which lives in the
environment or the data dir, not in the database. Keys stored before (plain SHA-256) still
work: a lookup that misses the HMAC tries the old digest and the store rewrites that row
(see :meth:`kefu.store.apps.AppRepository.find_key`).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["KeyHasher", "key_prefix"]

# A listing shows at most this many characters, and always hides at least the rest below.
_MAX_SHOWN = 10
_MIN_HIDDEN = 16


class KeyHasher:
    """The stored form of a key; without a secret (tests, tools that never see keys), the
    old SHA-256 digest."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret

    def digest(self, plaintext: str) -> str:
        data = plaintext.encode("utf-8")
        if self._secret is None:
            return hashlib.sha256(data).hexdigest()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def legacy_digest(self, plaintext: str) -> str | None:
        """The digest keys were stored under before the HMAC, or None when it is the same."""
        if self._secret is None:
            return None
        return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def key_prefix(plaintext: str) -> str:
    """What a listing shows of a key: at most 10 characters, and never so many that fewer
    than 16 stay hidden (a short demo key like ``app-demo`` shows nothing)."""
    return plaintext[: max(0, min(_MAX_SHOWN, len(plaintext) - _MIN_HIDDEN))]
