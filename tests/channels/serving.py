"""Run an ASGI app (kefu, or a mock platform) on a real port in a thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.servers import serving_in_thread as serving

__all__ = ["serving", "wait_until"]


def wait_until(check: Callable[[], Any], what: str, timeout_s: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (kefu answers in the background)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")
