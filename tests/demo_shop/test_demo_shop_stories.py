"""The documented demo customers' stories: the doubled bill and the downgrade."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from kefu_demo_shop import create_shop_app
from tests.demo_shop.helpers import shop_client


async def test_bill_doubled_last_month_because_of_overage(shop: httpx.AsyncClient) -> None:
    user = (await shop.get("/users/find", params={"phone": "13800001234"})).json()
    assert user["user_id"] == "mei_martin_4260"
    bills = (await shop.get("/users/mei_martin_4260/bills")).json()["bills"]
    assert [b["month"] for b in bills] == [
        "2026-10",
        "2026-09",
        "2026-08",
        "2026-07",
        "2026-06",
        "2026-05",
    ]
    last, *earlier = bills
    assert last == {
        "month": "2026-10",
        "issued_on": "2026-11-01",
        "status": "unpaid",
        "plan_code": "plus",
        "plan_name": "小铺流量卡·畅享 20G",
        "plan_name_en": "XiaoPu Data Card Plus 20 GB",
        "monthly_fee": 29.0,
        "data_allowance_gb": 20.0,
        "data_used_gb": 29.8,
        "overage_gb": 9.8,
        "overage_rate": 3.0,
        "overage_fee": 29.4,
        "total": 58.4,
        "currency": "CNY",
    }
    for bill in earlier:
        assert bill["data_used_gb"] < bill["data_allowance_gb"]
        assert bill["overage_fee"] == 0 and bill["total"] == 29.0 and bill["status"] == "paid"
    one = (await shop.get("/users/mei_martin_4260/bills", params={"month": "2026-10"})).json()
    assert one == {"user_id": "mei_martin_4260", **last}


@pytest.mark.parametrize(
    ("month", "status", "code"),
    [
        ("2026-11", 404, "bill_not_found"),
        ("2026-04", 404, "bill_not_found"),
        ("Oct", 400, "invalid_param"),
        ("2026-13", 400, "invalid_param"),
    ],
)
async def test_bill_month_errors(
    shop: httpx.AsyncClient, month: str, status: int, code: str
) -> None:
    response = await shop.get("/users/mei_martin_4260/bills", params={"month": month})
    assert response.status_code == status and response.json()["code"] == code
    assert (await shop.get("/users/nobody/bills")).status_code == 404


async def test_downgraded_on_january_first_with_the_numbers(shop: httpx.AsyncClient) -> None:
    user = (await shop.get("/users/find", params={"email": "liam.li8523@example.com"})).json()
    assert user["membership"]["level"] == "silver"
    membership = (await shop.get("/users/liam_li_8526/membership")).json()
    latest = membership["history"][0]
    assert latest["change"] == "downgrade"
    assert latest["date"] == "2026-01-01"
    assert (latest["from_level"], latest["to_level"]) == ("gold", "silver")
    assert (latest["growth_points"], latest["threshold"]) == (3200, 5000)
    assert (
        latest["reason"]
        == "年度评定：2025 年累计成长值 3,200，未达到金卡会员门槛 5,000，降为银卡会员"
    )
    assert "3,200" in latest["reason_en"] and "5,000" in latest["reason_en"]
    assert membership["growth_points_this_year"] == 1860
    assert membership["restorable_level"] == {
        "level": "gold",
        "level_name": "金卡会员",
        "threshold": 5000,
        "points_needed": 3140,
    }
    assert [e["change"] for e in membership["history"]] == [
        "downgrade",
        "upgrade",
        "upgrade",
        "join",
    ]


async def test_last_month_always_has_a_bill_with_the_real_clock(shop_db: Path) -> None:
    app = create_shop_app(shop_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://shop.test"
    ) as client:
        today = date.today()
        last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
        response = await client.get(
            "/users/mei_martin_4260/bills", params={"month": last.strftime("%Y-%m")}
        )
        assert response.json()["total"] == 58.4


async def test_faults_are_off_unless_enabled(shop: httpx.AsyncClient) -> None:
    response = await shop.post("/_faults", json={"status": 503})
    assert response.status_code == 404


async def test_fault_injection_fails_and_delays_matching_paths(shop_db: Path) -> None:
    async with shop_client(shop_db, faults=True) as client:
        fault = {"status": 503, "paths": ["/orders"]}
        assert (await client.post("/_faults", json=fault)).status_code == 200
        failed = await client.get("/orders/W2378156")
        assert failed.status_code == 503 and failed.json()["code"] == "injected_fault"
        assert (await client.get("/users/liam_li_8526")).status_code == 200
        assert (await client.post("/_faults", json={"delay_ms": 300})).status_code == 200
        started = time.perf_counter()
        assert (await client.get("/users/liam_li_8526")).status_code == 200
        assert time.perf_counter() - started >= 0.3
        assert (await client.delete("/_faults")).json() == {"cleared": True}
        assert (await client.get("/_faults")).json() is None
        assert (await client.get("/orders/W2378156")).status_code == 200
        bad = await client.post("/_faults", json={"status": 200})
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
