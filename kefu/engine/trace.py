"""Per-turn trace: which stages ran, how long each took and what each decided."""

from __future__ import annotations

import random
import time
from types import TracebackType
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

    def stage(self, name: str) -> _StageTimer:
        """Time a stage; the context manager yields a dict collecting what the stage wants
        recorded."""
        record: dict[str, Any] = {"name": name}
        self.stages.append(record)  # in the order stages start: a nested one follows its own
        return _StageTimer(record, self._start)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._start) * 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            **self.facts,
            "stages": self.stages,
            "total_ms": round(self.elapsed_ms(), 3),
        }


class _StageTimer:
    """Times one stage into its record (``started_ms``, ``duration_ms``).

    A class rather than ``@contextmanager``: a generator-based context manager costs a few
    µs to make, enter and leave, and a turn times ~8 stages on the event loop's thread.
    """

    __slots__ = ("_record", "_started", "_trace_start")

    def __init__(self, record: dict[str, Any], trace_start: float) -> None:
        self._record = record
        self._trace_start = trace_start
        self._started = 0.0

    def __enter__(self) -> dict[str, Any]:
        self._started = time.perf_counter()
        return self._record

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        started = self._started
        self._record["started_ms"] = round((started - self._trace_start) * 1000, 3)
        self._record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
