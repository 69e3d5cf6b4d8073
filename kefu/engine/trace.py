"""Per-turn trace: which stages ran, how long each took and what each decided."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Trace"]


class Trace:
    """Collects stage timings and decisions; ``to_dict`` is what the admin API shows.

    ``trace_id`` is a 32-hex-digit id, the same shape as an OpenTelemetry trace id (the
    chat service gives the request's or the turn span's). ``span`` is the turn's
    OpenTelemetry span while tracing is on (:mod:`kefu.observability.tracing`), else None.
    """

    def __init__(self, trace_id: str | None = None, span: Any = None) -> None:
        # OpenTelemetry-shaped, no syscall
        self.trace_id = trace_id or f"{random.getrandbits(128):032x}"
        self.span = span
        self._start = time.perf_counter()
        self.stages: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[dict[str, Any]]:
        """Time a stage; the yielded dict collects what the stage wants recorded."""
        started = time.perf_counter()
        record: dict[str, Any] = {"name": name}
        self.stages.append(record)  # in the order stages start: a nested one follows its own
        try:
            yield record
        finally:
            record["started_ms"] = round((started - self._start) * 1000, 3)
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._start) * 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            **self.facts,
            "stages": self.stages,
            "total_ms": round(self.elapsed_ms(), 3),
        }
