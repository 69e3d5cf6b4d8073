"""HMAC-SHA256 request signing shared by channels that speak plain signed HTTP (webhooks).

The signature covers the timestamp and the raw body (``<timestamp>.<body>``), so neither can
be changed, and a receiver refusing timestamps outside its window is safe from replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Kefu-Signature"
TIMESTAMP_HEADER = "X-Kefu-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    max_age_s: float,
    now: float | None = None,
) -> str | None:
    """None when the request is genuine and fresh, else why not."""
    if not signature or not timestamp:
        return f"the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required"
    try:
        sent_at = float(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "the signature does not match"
    if abs((time.time() if now is None else now) - sent_at) > max_age_s:
        return f"the timestamp is outside the {max_age_s:g}-second replay window"
    return None
