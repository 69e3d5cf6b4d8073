"""OpenTelemetry spans for the turn: ``kefu.turn`` with a child per stage, ``kefu.generate``
and ``kefu.persist``, exported over OTLP/HTTP when ``KEFU_OTEL_ENDPOINT`` is set.

The SDK and exporter are the ``otel`` extra (``pip install 'kefu[otel]'``); without them a
configured endpoint is reported once and kefu runs untraced. With tracing off every helper
here is a no-op that allocates nothing, so the turn pays nothing for it.

The turn's trace id (stored with its trace, logged, returned as ``X-Trace-Id``) is its
span's when tracing is on, so the admin trace and the tracing backend's trace match.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

__all__ = [
    "configure_tracing",
    "end_span",
    "span_trace_id",
    "stage_span",
    "start_child",
    "start_turn_span",
    "tracing_enabled",
    "use_tracer_provider",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'kefu[otel]'"
_NOTHING: AbstractContextManager[None] = nullcontext()
_tracer: Any = None  # an opentelemetry Tracer while tracing is on


def tracing_enabled() -> bool:
    return _tracer is not None


def use_tracer_provider(provider: Any | None) -> None:
    """Trace into ``provider`` (an SDK ``TracerProvider``); None turns tracing off."""
    global _tracer
    _tracer = None if provider is None else provider.get_tracer("kefu")


def configure_tracing(endpoint: str | None, service_name: str = "kefu") -> Any | None:
    """Export spans to the OTLP/HTTP collector at ``endpoint`` (``http://collector:4318``);
    returns the provider to shut down at exit, or None when tracing stays off."""
    if not endpoint:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "KEFU_OTEL_ENDPOINT is set but OpenTelemetry's SDK and OTLP exporter are not "
            "installed (%s); tracing is off",
            INSTALL_HINT,
        )
        return None
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    trace.set_tracer_provider(provider)  # FastAPI's own request spans (KEFU_OTEL) too
    use_tracer_provider(provider)
    log.info("tracing: OTLP spans to %s", url)
    return provider


def start_turn_span(attributes: Mapping[str, str]) -> Any | None:
    """The turn's span (not made current: it outlives the request handler when streaming),
    a child of the current span if there is one (FastAPI's, with ``KEFU_OTEL``)."""
    if _tracer is None:
        return None
    return _tracer.start_span("kefu.turn", attributes=dict(attributes))


def span_trace_id(span: Any | None) -> str | None:
    """32 hex digits, the span's trace id."""
    if span is None:
        return None
    return f"{span.get_span_context().trace_id:032x}"


def stage_span(parent: Any | None, name: str) -> AbstractContextManager[Any]:
    """A child span of ``parent`` made current while a stage runs (nothing without one)."""
    if parent is None or _tracer is None:
        return _NOTHING
    from opentelemetry import trace

    return _tracer.start_as_current_span(name, context=trace.set_span_in_context(parent))


def start_child(parent: Any | None, name: str) -> Any | None:
    """A child span of ``parent`` that the caller ends with :func:`end_span` (for work that
    spans an async generator's ``yield``, where a current span cannot be kept)."""
    if parent is None or _tracer is None:
        return None
    from opentelemetry import trace

    return _tracer.start_span(name, context=trace.set_span_in_context(parent))


def end_span(
    span: Any | None, attributes: Mapping[str, Any] | None = None, error: str | None = None
) -> None:
    """Set ``attributes`` (None values skipped), mark an error, and end the span."""
    if span is None:
        return
    for key, value in (attributes or {}).items():
        if value is not None:
            span.set_attribute(key, value)
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, error))
    span.end()
