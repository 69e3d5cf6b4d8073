"""Every Prometheus metric kefu exports, and the one function per event that records it.

Callers record events (``turn_finished``, ``stage_timed``, ``tool_called`` …), never touch
metric objects: the names, labels and buckets live here only, ``docs/operations.md`` lists
them, and the shipped alert rules and dashboard (``deploy/``) read nothing else
(``tests/observability`` checks both).

Several worker processes share their counts when ``PROMETHEUS_MULTIPROC_DIR`` names an
empty directory *before* kefu is imported (prometheus-client chooses its value storage at
import); :func:`exposition` then merges every process's files. Without it the counts are
this process's. ``configure(enabled=False)`` (``KEFU_METRICS=0``) turns recording off.

The metric objects are module-level on purpose: prometheus-client's registry is per
process, and a metric registered twice is an error.
"""

from __future__ import annotations

import os
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE_LATEST",
    "METRIC_NAMES",
    "cache_lookup",
    "channel_received",
    "channel_sent",
    "configure",
    "enabled",
    "exposition",
    "handoff_claimed",
    "handoff_requested",
    "http_request",
    "intent_confidence",
    "llm_error",
    "llm_fallback",
    "llm_first_token",
    "llm_tokens",
    "rate_limited",
    "registry",
    "serve_on_port",
    "stage_timed",
    "tool_called",
    "turn_finished",
]

# Seconds: a turn is milliseconds when answered from knowledge, seconds when a model writes.
_TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                  0.5, 1, 2.5, 5, 10)  # fmt: skip
_QUEUE_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
_CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)

TURNS = Counter(
    "kefu_turns",
    "Customer turns answered, by app, route and language",
    ["app", "route", "language"],
)
TURN_SECONDS = Histogram(
    "kefu_turn_duration_seconds",
    "A turn from request to stored answer, by route kind",
    ["route"],
    buckets=_TURN_BUCKETS,
)
STAGE_SECONDS = Histogram(
    "kefu_turn_stage_duration_seconds",
    "Time in each stage of the turn (kefu.engine.turn), and in generate and persist",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
INTENT_CONFIDENCE = Histogram(
    "kefu_intent_confidence",
    "The intent classifier's confidence in its best intent, per turn it ran on",
    ["app"],
    buckets=_CONFIDENCE_BUCKETS,
)
LLM_FIRST_TOKEN = Histogram(
    "kefu_llm_time_to_first_token_seconds",
    "From asking a model to stream to the first visible text, by model",
    ["model"],
    buckets=_TURN_BUCKETS,
)
LLM_TOKENS = Counter(
    "kefu_llm_tokens", "Tokens sent to (in) and written by (out) each model", ["model", "direction"]
)
LLM_ERRORS = Counter(
    "kefu_llm_errors", "Failed model calls, by model and kind of failure", ["model", "kind"]
)
LLM_FALLBACKS = Counter(
    "kefu_llm_fallbacks",
    "A model failed and the next one (to=next) or the extractive answer (to=extractive) took over",
    ["model", "to"],
)
TOOL_CALLS = Counter("kefu_tool_calls", "Tool calls by tool and outcome", ["tool", "outcome"])
TOOL_SECONDS = Histogram(
    "kefu_tool_call_duration_seconds", "Tool call latency by tool", ["tool"], buckets=_TURN_BUCKETS
)
HANDOFFS = Counter("kefu_handoffs", "Hand-overs to a human, by app and reason", ["app", "reason"])
QUEUE_WAIT = Histogram(
    "kefu_handoff_queue_wait_seconds",
    "How long a handed-over conversation waited until an agent took it",
    ["app"],
    buckets=_QUEUE_BUCKETS,
)
CACHE = Counter("kefu_cache_lookups", "Cache lookups by cache and result", ["cache", "result"])
RATE_LIMITED = Counter(
    "kefu_rate_limited", "Requests refused with 429, by limit (user, key, concurrency)", ["limit"]
)
HTTP_REQUESTS = Counter(
    "kefu_http_requests", "HTTP requests by method, route template and status code",
    ["method", "route", "status"],
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "kefu_http_request_duration_seconds",
    "HTTP request time until the last byte of the response, by method and route template",
    ["method", "route"],
    buckets=_TURN_BUCKETS,
)
CHANNEL_RECEIVED = Counter(
    "kefu_channel_messages",
    "Customer messages from channels (WeCom, Feishu, webhooks) by app, channel type and "
    "outcome (answered, duplicate, refused, rejected)",
    ["app", "channel", "outcome"],
)
CHANNEL_SENT = Counter(
    "kefu_channel_sends",
    "Attempts to send to a channel's customers by app, channel type and outcome "
    "(sent, retried, failed)",
    ["app", "channel", "outcome"],
)
PROACTIVE_OFFERS = Counter(
    "kefu_proactive_offers",
    "Proactive offers by app, rule and outcome (shown, delivered to a channel, accepted, "
    "dismissed)",
    ["app", "rule", "outcome"],
)

_ALL = (TURNS, TURN_SECONDS, STAGE_SECONDS, INTENT_CONFIDENCE, LLM_FIRST_TOKEN, LLM_TOKENS,
        LLM_ERRORS, LLM_FALLBACKS, TOOL_CALLS, TOOL_SECONDS, HANDOFFS, QUEUE_WAIT, CACHE,
        RATE_LIMITED, HTTP_REQUESTS, HTTP_SECONDS, CHANNEL_RECEIVED, CHANNEL_SENT,
        PROACTIVE_OFFERS)  # fmt: skip
# The names Prometheus shows (counters gain ``_total``; histograms ``_bucket``, ``_sum``,
# ``_count``): what the alert rules and the dashboard may read.
METRIC_NAMES: frozenset[str] = frozenset(
    f"{family.name}{suffix}"
    for metric in _ALL
    for family in metric.describe()
    for suffix in (("_total",) if family.type == "counter" else ("_bucket", "_sum", "_count"))
)

_on = True


class _Children(dict[Any, Any]):
    """A metric's labelled children by label values, made on first use: a dict lookup is
    a tenth of what ``metric.labels(...)`` costs, and the turn records a dozen values."""

    def __init__(self, metric: Any) -> None:
        super().__init__()
        self._metric = metric

    def __missing__(self, key: Any) -> Any:
        child = self[key] = (
            self._metric.labels(*key) if isinstance(key, tuple) else (self._metric.labels(key))
        )
        return child


_turns, _turn_seconds, _stages = _Children(TURNS), _Children(TURN_SECONDS), _Children(STAGE_SECONDS)
_intents, _first_token, _tokens = (
    _Children(INTENT_CONFIDENCE), _Children(LLM_FIRST_TOKEN), _Children(LLM_TOKENS)
)  # fmt: skip
_caches, _limited = _Children(CACHE), _Children(RATE_LIMITED)
_http, _http_seconds = _Children(HTTP_REQUESTS), _Children(HTTP_SECONDS)


def configure(*, enabled: bool) -> None:
    """Record metrics (the default) or not (``KEFU_METRICS=0``: every call here is a no-op)."""
    global _on
    _on = enabled


def enabled() -> bool:
    return _on


def registry() -> Collector:
    """What a scrape reads: this process's registry, or every worker process's files when
    ``PROMETHEUS_MULTIPROC_DIR`` is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    return REGISTRY


def exposition() -> bytes:
    """The current values in Prometheus' text format."""
    return generate_latest(registry())


def serve_on_port(port: int, host: str = "127.0.0.1") -> WSGIServer:
    """``/metrics`` on its own listener (a daemon thread); ``shutdown()`` the result."""
    server, _ = start_http_server(port, host, registry=registry())
    return server


# --- events -----------------------------------------------------------------------------------


def turn_finished(app: str, route: str, language: str, seconds: float) -> None:
    if _on:
        _turns[app, route, language].inc()
        _turn_seconds[route].observe(seconds)


def stage_timed(stage: str, seconds: float) -> None:
    if _on:
        _stages[stage].observe(seconds)


def intent_confidence(app: str, confidence: float) -> None:
    if _on:
        _intents[app].observe(confidence)


def llm_first_token(model: str, seconds: float) -> None:
    if _on:
        _first_token[model].observe(seconds)


def llm_tokens(model: str, prompt_tokens: int, completion_tokens: int) -> None:
    if _on:
        if prompt_tokens:
            _tokens[model, "in"].inc(prompt_tokens)
        if completion_tokens:
            _tokens[model, "out"].inc(completion_tokens)


def llm_error(model: str, kind: str) -> None:
    """``kind``: timeout, rate_limited, bad_response, unavailable, error."""
    if _on:
        LLM_ERRORS.labels(model, kind).inc()


def llm_fallback(model: str, to: str) -> None:
    """``to``: ``next`` (the chain's next model) or ``extractive`` (no model answered)."""
    if _on:
        LLM_FALLBACKS.labels(model, to).inc()


def tool_called(tool: str, outcome: str, seconds: float) -> None:
    if _on:
        TOOL_CALLS.labels(tool, outcome).inc()
        TOOL_SECONDS.labels(tool).observe(seconds)


def handoff_requested(app: str, reason: str) -> None:
    if _on:
        HANDOFFS.labels(app, reason).inc()


def handoff_claimed(app: str, waited_seconds: float) -> None:
    if _on:
        QUEUE_WAIT.labels(app).observe(max(0.0, waited_seconds))


def cache_lookup(cache: str, hit: bool) -> None:
    if _on:
        _caches[cache, "hit" if hit else "miss"].inc()


def channel_received(app: str, channel: str, outcome: str) -> None:
    """``outcome``: answered, duplicate, refused (rate limit, empty) or rejected (signature)."""
    if _on:
        CHANNEL_RECEIVED.labels(app, channel, outcome).inc()


def channel_sent(app: str, channel: str, outcome: str) -> None:
    """One attempt to send: ``sent``, ``retried`` (a later attempt follows) or ``failed``."""
    if _on:
        CHANNEL_SENT.labels(app, channel, outcome).inc()


def proactive_offer(app: str, rule: str, outcome: str) -> None:
    """``outcome``: shown (an offer was made), delivered (sent to the customer's channel
    conversation), accepted or dismissed (the visitor's answer, counted once)."""
    if _on:
        PROACTIVE_OFFERS.labels(app, rule, outcome).inc()


def rate_limited(limit: str) -> None:
    """``limit``: user, key, verified_user, session, ip or concurrency."""
    if _on:
        _limited[limit].inc()


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    if _on:
        _http[method, route, status].inc()
        _http_seconds[method, route].observe(seconds)
