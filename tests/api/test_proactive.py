"""Proactive service over HTTP (issue 18, item 4): a page visitor's events fire the app's
rules — the refund page opened a second time offers help, once per cool-down — never in
quiet hours, after an opt-out or while a human has the conversation; offers are accepted or
dismissed by their own visitor only; bad events get the envelope, never a 500. On SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from kefu.services.proactive import ProactiveService
from kefu.services.runtime import Runtime
from tests.conftest import ADMIN_KEY, FIXTURES, backend_settings
from tests.servers import in_process_client

TINY = FIXTURES / "apps" / "tiny"
SHOP_ORIGIN = "https://shop.example"
REFUND_ZH = "您是否需要帮助申请退货？"
REFUND_EN = "Need help with a return?"
APP_FILE = f"""
name: offers
language: zh
knowledge: {{faq: ["{TINY / "faq.jsonl"}"]}}
web:
  public: true
  allowed_origins: ["{SHOP_ORIGIN}"]
  session_burst: 200
  session_rate_per_s: 100
proactive:
  rules:
    - name: refund_help
      event: page_view
      conditions: {{path_regex: /refund, min_count: 2, window_s: 1800}}
      message: {{zh: "{REFUND_ZH}", en: "{REFUND_EN}"}}
      cooldown_s: 600
    - name: big_cart
      event: cart
      conditions: {{properties: {{total: {{gte: 500}}, currency: {{equals: CNY}}}}}}
      message: {{zh: 满 500 元可用优惠券, en: Orders over 500 get a coupon}}
      cooldown_s: 60
      max_per_visitor: 2
    - name: night_owl
      event: order_paid
      message: {{zh: 感谢下单, en: Thanks for your order}}
      cooldown_s: 0
      quiet_hours: {{start: "22:00", end: "08:00", timezone: Asia/Shanghai}}
"""
# 12:00 in Shanghai, outside the quiet hours.
NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def offers_runtime(
    request: pytest.FixtureRequest, db_backend: str, tmp_path: Path
) -> Iterator[Runtime]:
    app_file = tmp_path / "offers.yaml"
    app_file.write_text(APP_FILE, encoding="utf-8")
    settings = backend_settings(request, db_backend, tmp_path / "data", ip_burst=10_000)
    runtime = Runtime.build(settings, [app_file])
    yield runtime
    runtime.close()


@pytest.fixture
def clock(offers_runtime: Runtime) -> Clock:
    clock = Clock(NOON)
    offers_runtime.proactive = ProactiveService(offers_runtime.store, clock=clock)
    return clock


@pytest.fixture
async def http(offers_runtime: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process_client(offers_runtime) as client:
        yield client


async def session(http: httpx.AsyncClient) -> dict[str, str]:
    """A new page visitor's Authorization header."""
    reply = await http.post("/web/session", json={"app": "offers"})
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


async def visit(
    http: httpx.AsyncClient, visitor: dict[str, str], path: str, **extra: str
) -> list[dict[str, Any]]:
    reply = await http.post(
        "/web/events",
        json={"event": "page_view", "properties": {"url": f"https://shop.example{path}"}},
        headers={**visitor, **extra},
    )
    assert reply.status_code == 200, reply.text
    offers: list[dict[str, Any]] = reply.json()["offers"]
    return offers


async def test_the_second_refund_page_visit_offers_help_once_per_cool_down(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    visitor = await session(http)
    assert await visit(http, visitor, "/orders/refund") == []  # the first visit: nothing
    assert await visit(http, visitor, "/products/42") == []  # another page does not count
    clock.advance(30)
    [offer] = await visit(http, visitor, "/orders/refund?id=7")  # the second: help is offered
    assert offer["rule"] == "refund_help"
    assert offer["message"] == REFUND_ZH  # the app's language
    assert offer["localized"] == {"zh": REFUND_ZH, "en": REFUND_EN}
    assert offer["id"]
    clock.advance(60)
    assert await visit(http, visitor, "/orders/refund") == []  # third, within the cool-down
    clock.advance(600)
    [again] = await visit(http, visitor, "/orders/refund", **{"Accept-Language": "en-US,en"})
    assert again["message"] == REFUND_EN and again["id"] != offer["id"]
    # Another visitor counts from zero.
    other = await session(http)
    assert await visit(http, other, "/orders/refund") == []


async def test_window_conditions_caps_and_quiet_hours(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    visitor = await session(http)
    # Two refund visits further apart than the window are two first visits.
    assert await visit(http, visitor, "/refund") == []
    clock.advance(1801)
    assert await visit(http, visitor, "/refund") == []

    async def cart(total: Any, currency: str = "CNY") -> list[dict[str, Any]]:
        reply = await http.post(
            "/web/events",
            json={"event": "cart", "properties": {"total": total, "currency": currency}},
            headers=visitor,
        )
        assert reply.status_code == 200, reply.text
        return list(reply.json()["offers"])

    assert await cart(499.99) == []
    assert await cart(800, "USD") == []
    assert [o["rule"] for o in await cart("520.00")] == ["big_cart"]  # a number as text counts
    clock.advance(61)
    assert len(await cart(900)) == 1
    clock.advance(61)
    assert await cart(900) == []  # max_per_visitor: 2

    async def paid() -> list[dict[str, Any]]:
        reply = await http.post("/web/events", json={"event": "order_paid"}, headers=visitor)
        return list(reply.json()["offers"])

    clock.now = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: quiet
    assert await paid() == []
    clock.now = datetime(2026, 12, 4, 23, 59, tzinfo=UTC)  # 07:59: still quiet
    assert await paid() == []
    clock.now = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)  # 08:00: open again
    assert len(await paid()) == 1
    # A custom event no rule names is fine, and fires nothing.
    custom = await http.post(
        "/web/events", json={"event": "video.played-50", "properties": {}}, headers=visitor
    )
    assert custom.status_code == 200 and custom.json() == {"offers": []}
    bare = await http.post(
        "/web/events", json={"event": "order_paid", "properties": None}, headers=visitor
    )
    assert bare.status_code == 200  # null properties: none


async def test_opt_out_stops_offers_and_opting_in_brings_them_back(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    visitor = await session(http)
    opted = await http.post("/web/events/opt-out", headers=visitor)
    assert opted.status_code == 200 and opted.json() == {"opted_out": True}
    assert (await http.get("/web/events/opt-out", headers=visitor)).json() == {"opted_out": True}
    for _ in range(3):
        assert await visit(http, visitor, "/refund") == []
    again = await http.post("/web/events/opt-out", headers=visitor)  # saying it twice is fine
    assert again.json() == {"opted_out": True}
    back = await http.delete("/web/events/opt-out", headers=visitor)
    assert back.status_code == 200 and back.json() == {"opted_out": False}
    assert await visit(http, visitor, "/refund") == []  # visits while opted out were not counted
    assert len(await visit(http, visitor, "/refund")) == 1


async def test_no_offer_while_a_human_has_the_conversation(
    http: httpx.AsyncClient, offers_runtime: Runtime, clock: Clock
) -> None:
    visitor = await session(http)
    answered = await http.post(
        "/v1/chat-messages",
        json={"query": "opening times", "response_mode": "blocking"},
        headers=visitor,
    )
    assert answered.status_code == 200, answered.text
    conversation_id = answered.json()["conversation_id"]
    with offers_runtime.store.engine.begin() as connection:
        connection.execute(
            text("UPDATE conversations SET handoff_state = 'human' WHERE id = :id"),
            {"id": conversation_id},
        )
    body = {
        "event": "page_view",
        "properties": {"path": "/refund"},
        "conversation_id": conversation_id,
    }
    for _ in range(3):
        reply = await http.post("/web/events", json=body, headers=visitor)
        assert reply.status_code == 200 and reply.json() == {"offers": []}
    with offers_runtime.store.engine.begin() as connection:
        connection.execute(
            text("UPDATE conversations SET handoff_state = 'bot' WHERE id = :id"),
            {"id": conversation_id},
        )
    reply = await http.post("/web/events", json=body, headers=visitor)
    [offer] = reply.json()["offers"]
    assert offer["conversation_id"] == conversation_id
    # Someone else's conversation id is as unknown as a missing one.
    stranger = await session(http)
    foreign = await http.post("/web/events", json=body, headers=stranger)
    assert foreign.status_code == 404 and foreign.json()["code"] == "not_found"


def offers_counted(outcome: str) -> float:
    labels = {"app": "offers", "rule": "refund_help", "outcome": outcome}
    return REGISTRY.get_sample_value("kefu_proactive_offers_total", labels) or 0.0


async def test_offers_are_answered_by_their_own_visitor_and_counted(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    before = {o: offers_counted(o) for o in ("shown", "accepted", "dismissed")}
    shown: list[str] = []
    for _ in range(3):
        visitor = await session(http)
        await visit(http, visitor, "/refund")
        [offer] = await visit(http, visitor, "/refund")
        shown.append(offer["id"])
    accepted = await http.post(f"/web/offers/{shown[0]}/accept", headers=visitor)
    assert accepted.status_code == 404  # the last visitor's session: not their offer
    assert accepted.json()["code"] == "not_found"
    mine = await http.post(f"/web/offers/{shown[2]}/accept", headers=visitor)
    assert mine.status_code == 200, mine.text
    assert mine.json()["status"] == "accepted" and mine.json()["message"] == REFUND_ZH
    assert (await http.post(f"/web/offers/{shown[2]}/accept", headers=visitor)).status_code == 200
    late = await http.post(f"/web/offers/{shown[2]}/dismiss", headers=visitor)
    assert late.status_code == 409 and late.json()["message"] == "the offer was already accepted"
    for bad in ("not-an-id", "00000000-0000-7000-8000-000000000000"):
        missing = await http.post(f"/web/offers/{bad}/dismiss", headers=visitor)
        assert missing.status_code == 404
    assert (await http.post(f"/web/offers/{shown[2]}/maybe", headers=visitor)).status_code in (
        400,
        404,
        422,
    )
    # Prometheus counts each offer once, and an answer once however often it is repeated.
    after = {o: offers_counted(o) - before[o] for o in before}
    assert after == {"shown": 3, "accepted": 1, "dismissed": 0}
    report = await http.get(
        "/admin/apps/offers/analytics",
        params={"from": "2026-12-01", "to": "2026-12-10", "tz": "Asia/Shanghai"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert report.status_code == 200, report.text
    assert report.json()["proactive"] == {
        "total": {
            "rule": "total",
            "shown": 3,
            "accepted": 1,
            "dismissed": 0,
            "acceptance_rate": 0.3333,
        },
        "rules": [
            {
                "rule": "refund_help",
                "shown": 3,
                "accepted": 1,
                "dismissed": 0,
                "acceptance_rate": 0.3333,
            }
        ],
    }


async def test_many_second_visits_at_once_offer_help_once(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    visitor = await session(http)
    assert await visit(http, visitor, "/refund") == []
    results = await asyncio.gather(*(visit(http, visitor, "/refund") for _ in range(12)))
    assert sum(len(offers) for offers in results) == 1


def test_the_claim_holds_across_threads(offers_runtime: Runtime) -> None:
    """Sixteen threads claim the same visitor's rule at the same moment: one wins."""
    from concurrent.futures import ThreadPoolExecutor

    from kefu.core.ids import new_id
    from kefu.core.proactive_records import OfferRecord

    repo = offers_runtime.store.proactive
    app_id = offers_runtime.apps.get("offers").id

    def claim(later_s: int) -> bool:
        record = OfferRecord(
            new_id(), app_id, "visitor-x", "refund_help", "page_view", None, "web", "zh",
            "shown", NOON + timedelta(seconds=later_s),
        )  # fmt: skip
        return repo.offer(record, cooldown_s=600, max_count=None)

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(claim, [0] * 16)) == 1  # racing to insert the visitor's slot
        assert sum(pool.map(claim, [700] * 16)) == 1  # racing to update it after the cool-down
    # Retention forgets the offer; the cool-down slot stays (it holds no content).
    assert repo.forget_offers_before(app_id, NOON + timedelta(seconds=1)) == 1
    assert not claim(701)


async def test_bad_events_get_the_envelope(
    http: httpx.AsyncClient, offers_runtime: Runtime
) -> None:
    visitor = await session(http)
    cases: list[tuple[Any, int]] = [
        ({"event": "Page View"}, 400),
        ({"event": ""}, 400),
        ({"event": "x" * 65}, 400),
        ({"event": "page_view\u0000"}, 400),
        ({"event": "page_view", "properties": [1, 2]}, 400),
        ({"event": "page_view", "properties": {"path": "/refund\u001b[2J"}}, 400),
        ({"event": "page_view", "properties": {"bad\nkey": 1}}, 400),
        ({"event": "page_view", "properties": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, 400),
        ({"event": "page_view", "properties": {"x": "y" * 5000}}, 413),
        ({"event": "page_view", "properties": {"n": 2**70}}, 400),
        ({"event": "page_view", "surprise": 1}, 400),
        ({"event": "page_view", "conversation_id": "nope"}, 404),
        ({"event": "page_view", "language": "fr"}, 400),
        ([], 400),
        ("page_view", 400),
    ]
    for body, status in cases:
        reply = await http.post("/web/events", json=body, headers=visitor)
        assert reply.status_code == status, (body, reply.text)
        assert set(reply.json()) >= {"status", "code", "message"}, body
    broken = await http.post(
        "/web/events",
        content=b'{"event": ',
        headers={**visitor, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["code"] == "bad_request"
    assert (await http.post("/web/events", json={"event": "page_view"})).status_code == 401
    app_key = offers_runtime.apps.new_key(offers_runtime.apps.get("offers"), "app")[1]
    keyed = await http.post(
        "/web/events", json={"event": "page_view"}, headers={"Authorization": f"Bearer {app_key}"}
    )
    assert keyed.status_code == 403
    as_session = await http.post("/v1/events", json={"event": "page_view"}, headers=visitor)
    assert as_session.status_code == 403
    foreign = await http.post(
        "/web/events", json={"event": "page_view"}, headers={**visitor, "Origin": "https://x.y"}
    )
    assert foreign.status_code == 403
    allowed = await http.post(
        "/web/events", json={"event": "page_view"}, headers={**visitor, "Origin": SHOP_ORIGIN}
    )
    assert allowed.status_code == 200
    preflight = await http.options(
        "/web/events",
        headers={
            "Origin": SHOP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.headers["access-control-allow-origin"] == SHOP_ORIGIN
    someone = await http.post(
        "/web/events", json={"event": "page_view", "user": "c-1001"}, headers=visitor
    )
    assert someone.status_code == 403  # a page speaks for its own visitor only


async def test_a_backend_reports_events_for_its_users(
    http: httpx.AsyncClient, offers_runtime: Runtime, clock: Clock
) -> None:
    app_key = offers_runtime.apps.new_key(offers_runtime.apps.get("offers"), "app")[1]
    key = {"Authorization": f"Bearer {app_key}"}
    body = {"event": "cart", "properties": {"total": 600, "currency": "CNY"}, "user": "c-1001"}
    first = await http.post("/v1/events", json=body, headers=key)
    assert first.status_code == 200, first.text
    [offer] = first.json()["offers"]
    assert first.json()["delivered"] == []  # no channel conversation: the backend shows it
    assert (await http.post("/v1/events", json=body, headers=key)).json()["offers"] == []
    assert (
        await http.post("/v1/events", json={**body, "user": None}, headers=key)
    ).status_code == 400
    other = await http.post(
        f"/v1/offers/{offer['id']}/dismiss", json={"user": "c-2002"}, headers=key
    )
    assert other.status_code == 404
    dismissed = await http.post(
        f"/v1/offers/{offer['id']}/dismiss", json={"user": "c-1001"}, headers=key
    )
    assert dismissed.json()["status"] == "dismissed"
    opted = await http.post("/v1/events/opt-out", json={"user": "c-1001"}, headers=key)
    assert opted.json() == {"opted_out": True}
    clock.advance(61)
    assert (await http.post("/v1/events", json=body, headers=key)).json()["offers"] == []
    back = await http.delete("/v1/events/opt-out", params={"user": "c-1001"}, headers=key)
    assert back.json() == {"opted_out": False}
    assert len((await http.post("/v1/events", json=body, headers=key)).json()["offers"]) == 1


async def test_the_demo_shop_offers_help_on_the_second_refund_page_visit(
    runtime: Runtime,
) -> None:
    """The demo's rule, which the widget's browser test shows: twice → the offer, once."""
    async with in_process_client(runtime, raise_app_exceptions=True) as http:
        reply = await http.post("/web/session", json={"app": "demo-shop"})
        visitor = {"Authorization": f"Bearer {reply.json()['token']}"}
        seen = [await visit(http, visitor, "/account/refund") for _ in range(3)]
    assert [len(offers) for offers in seen] == [0, 1, 0]
    assert seen[1][0]["rule"] == "refund_help"
    assert seen[1][0]["localized"] == {"zh": REFUND_ZH, "en": REFUND_EN}
