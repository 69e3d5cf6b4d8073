"""``/metrics`` after real turns: who may read it, and the values the turns moved."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from kefu.llm.fallback import FallbackChain
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel
from tests.conftest import ADMIN_KEY, DEMO_KEY
from tests.observability.scrape import scrape, total, value
from tests.servers import in_process_client

CHAT = "/v1/chat-messages"
FAQ_QUESTION = "订单多久发货?"  # an FAQ answer in the demo app
STAGES = ("input_guard", "understand", "route", "plan", "output_guard", "persist")


def ask(query: str, user: str, mode: str = "blocking") -> dict[str, object]:
    return {"query": query, "user": user, "inputs": {}, "response_mode": mode}


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(runtime) as client:
        yield client
    await runtime.aclose_models()


async def test_metrics_need_the_admin_key(http: httpx.AsyncClient) -> None:
    assert (await http.get("/metrics")).status_code == 401
    app_key = await http.get("/metrics", headers={"Authorization": f"Bearer {DEMO_KEY}"})
    assert app_key.status_code == 401
    admin = await http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert admin.status_code == 200 and "kefu_turns_total" in admin.text


async def test_turns_move_the_turn_stage_cache_and_http_metrics(
    http: httpx.AsyncClient, user: str
) -> None:
    before = await scrape(http)
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    for mode in ("blocking", "streaming", "blocking"):
        response = await http.post(CHAT, json=ask(FAQ_QUESTION, user, mode), headers=headers)
        assert response.status_code == 200
    assert (await http.get("/no/such/path/42")).status_code == 404
    after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    faq = {"app": "demo-shop", "route": "faq", "language": "zh"}
    assert moved("kefu_turns_total", **faq) == 3
    assert moved("kefu_turn_duration_seconds_count", route="faq") == 3
    assert moved("kefu_turn_duration_seconds_sum", route="faq") > 0
    for stage in STAGES:
        assert moved("kefu_turn_stage_duration_seconds_count", stage=stage) >= 3, stage
    # The same question three times: the routing decision is cached after the first.
    assert moved("kefu_cache_lookups_total", cache="route", result="hit") >= 2
    http_ok = {"method": "POST", "route": CHAT, "status": "200"}
    assert moved("kefu_http_requests_total", **http_ok) == 3
    assert moved("kefu_http_request_duration_seconds_count", method="POST", route=CHAT) == 3
    # Unknown paths share one label value: a scanner cannot grow the series without bound.
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert moved("kefu_http_requests_total", **unmatched) == 1
    assert not any("/no/such/path" in dict(labels).get("route", "") for _, labels in after)
    # The scrape before this one was counted as a request too.
    scrapes = {"method": "GET", "route": "/metrics", "status": "200"}
    assert moved("kefu_http_requests_total", **scrapes) == 1


async def test_refusals_count_by_limit(http: httpx.AsyncClient, user: str) -> None:
    before = await scrape(http)
    headers = {"Authorization": f"Bearer {DEMO_KEY}"}
    statuses = [
        (await http.post(CHAT, json=ask(f"订单多久发货? {n}", user), headers=headers)).status_code
        for n in range(25)  # the demo app lets one customer send 20 at once
    ]
    assert 429 in statuses
    after = await scrape(http)
    refused = statuses.count(429)
    assert (
        value(after, "kefu_rate_limited_total", limit="user")
        - value(before, "kefu_rate_limited_total", limit="user")
        == refused
    )
    assert (
        total(after, "kefu_http_requests_total", status="429")
        - total(before, "kefu_http_requests_total", status="429")
        == refused
    )


async def test_model_metrics_by_model(llm_runtime: Runtime) -> None:
    """A failing first model falls over to the second: errors, fallbacks, time to first
    token and tokens by model; when both fail, the extractive answer is a fallback too."""
    app = llm_runtime.apps.get("demo-shop")
    down = ScriptedChatModel(name="down-model").fail("connection refused")
    up = ScriptedChatModel(name="up-model").say("非质量问题拒收的，", "运费从退款中扣除 [1]。")
    app.model = FallbackChain([down, up])
    async with in_process_client(llm_runtime, DEMO_KEY) as http:
        before = await scrape(http)
        streamed = await http.post(CHAT, json=ask("拒收的话运费谁出", "llm-1", "streaming"))
        assert streamed.status_code == 200 and "运费从退款中扣除" in streamed.text
        down.fail("connection refused")
        up.fail("model overloaded")
        fallen = await http.post(CHAT, json=ask("拒收的话运费谁出", "llm-2"))
        assert fallen.status_code == 200 and fallen.json()["answer"]
        after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("kefu_llm_errors_total", model="down-model", kind="error") == 2
    assert moved("kefu_llm_errors_total", model="up-model", kind="error") == 1
    assert moved("kefu_llm_fallbacks_total", model="down-model", to="next") == 2
    assert moved("kefu_llm_fallbacks_total", model="down-model → up-model", to="extractive") == 1
    assert moved("kefu_llm_time_to_first_token_seconds_count", model="up-model") == 1
    assert moved("kefu_llm_tokens_total", model="up-model", direction="in") > 0
    assert moved("kefu_llm_tokens_total", model="up-model", direction="out") > 0
    assert moved("kefu_turn_stage_duration_seconds_count", stage="generate") == 2
    assert moved("kefu_turns_total", app="demo-shop", route="generate", language="zh") == 2
