"""OpenTelemetry spans for the turn and its stages, caught by the SDK's in-memory exporter."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from kefu.observability import tracing
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from tests.conftest import DEMO_KEY
from tests.servers import in_process_client

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

CHAT = "/v1/chat-messages"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    yield exporter
    tracing.use_tracer_provider(None)
    provider.shutdown()


async def test_a_generated_turn_is_one_trace_of_its_stages(
    llm_runtime: Runtime, exported: InMemorySpanExporter
) -> None:
    llm_runtime.apps.get("demo-shop").model = ScriptedChatModel(name="m").say("运费 12 元 [1]。")
    async with in_process_client(llm_runtime, DEMO_KEY) as http:
        body = {"query": "拒收的话运费谁出", "user": "traced", "response_mode": "streaming"}
        response = await http.post(CHAT, json=body, headers={"X-Request-Id": "r-otel"})
    assert response.status_code == 200
    spans = exported.get_finished_spans()
    turn = next(span for span in spans if span.name == "kefu.turn")
    assert f"{turn.context.trace_id:032x}" == response.headers["x-trace-id"]
    children = [
        span for span in spans if span.parent and span.parent.span_id == turn.context.span_id
    ]
    names = [span.name for span in sorted(children, key=lambda span: span.start_time or 0)]
    assert names == [
        "input_guard",
        "understand",
        "route",
        "plan",
        "output_guard",
        "generate",
        "persist",
    ]
    assert all(span.context.trace_id == turn.context.trace_id for span in children)
    attributes = dict(turn.attributes or {})
    assert attributes["kefu.app"] == "demo-shop" and attributes["kefu.route"] == "generate"
    assert attributes["kefu.status"] == "normal"
    generate = next(span for span in children if span.name == "generate")
    assert dict(generate.attributes or {})["gen_ai.request.model"] == "m"
    assert dict(generate.attributes or {})["gen_ai.usage.output_tokens"] > 0


async def test_a_refused_request_ends_its_turn_span_as_an_error(
    runtime: Runtime, exported: InMemorySpanExporter
) -> None:
    async with in_process_client(runtime, DEMO_KEY) as http:
        body = {"query": "  ", "user": "traced-empty", "response_mode": "blocking"}
        response = await http.post(CHAT, json=body)
    assert response.status_code == 400
    turn = next(span for span in exported.get_finished_spans() if span.name == "kefu.turn")
    assert not turn.status.is_ok


def test_no_tracing_without_an_endpoint() -> None:
    assert tracing.configure_tracing(None) is None
    assert not tracing.tracing_enabled()


def test_a_configured_endpoint_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with caplog.at_level(logging.WARNING, logger="kefu.observability.tracing"):
        assert tracing.configure_tracing("http://collector:4318") is None
    assert "pip install 'kefu[otel]'" in caplog.text
    assert not tracing.tracing_enabled()


def test_a_configured_endpoint_exports_over_otlp() -> None:
    provider = tracing.configure_tracing("http://127.0.0.1:9/", "kefu-test")
    try:
        assert provider is not None and tracing.tracing_enabled()
        processor = provider._active_span_processor._span_processors[0]
        assert processor.span_exporter._endpoint == "http://127.0.0.1:9/v1/traces"
    finally:
        tracing.use_tracer_provider(None)
        if provider is not None:
            provider.shutdown()
