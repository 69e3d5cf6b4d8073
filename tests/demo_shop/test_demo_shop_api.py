"""The shop's HTTP API in process: lookups, orders, cancel/return rules, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo_shop.helpers import shop_client

RETURN_ORDER = "#W2378156"  # yusuf_rossi_9620, delivered, five items, paid by credit card
PENDING_ORDER = "#W6247578"  # yusuf_rossi_9620, pending T-shirt
GIFT_CARD_ORDER = "#W1130240"  # liam_li_8526, pending, paid by gift card (balance 11.0)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["message"]
    return dict(body)


async def test_health(shop: httpx.AsyncClient) -> None:
    response = await shop.get("/health")
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "params",
    [
        {"email": "Yusuf.Rossi7301@example.com"},
        {"phone": "186 0000 2378"},
        {"phone": "+86-18600002378"},
        {"first_name": "yusuf", "last_name": "ROSSI", "zip": "19122"},
    ],
)
async def test_find_user_by_email_phone_or_name_and_zip(
    shop: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await shop.get("/users/find", params=params)
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["user_id"] == "yusuf_rossi_9620"
    assert user["phone"] == "18600002378"
    assert user["address"]["zip"] == "19122"
    assert RETURN_ORDER in user["order_ids"]
    assert user["membership"]["level_name"].endswith("会员")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"email": "nobody@example.com"}, 404, "user_not_found"),
        ({"phone": "13000000000"}, 404, "user_not_found"),
        ({"first_name": "Yusuf", "last_name": "Rossi", "zip": "00000"}, 404, "user_not_found"),
        ({"phone": "12345"}, 400, "invalid_param"),
        ({"first_name": "Yusuf"}, 400, "invalid_param"),
        ({}, 400, "invalid_param"),
    ],
)
async def test_find_user_errors(
    shop: httpx.AsyncClient, params: dict[str, str], status: int, code: str
) -> None:
    assert_error(await shop.get("/users/find", params=params), status, code)


async def test_user_and_their_orders(shop: httpx.AsyncClient) -> None:
    user = (await shop.get("/users/liam_li_8526")).json()
    assert user["email"] == "liam.li8523@example.com"
    assert {"source": "gift_card", "id": "gift_card_5427896", "balance": 11.0} in user[
        "payment_methods"
    ]
    orders = (await shop.get("/users/yusuf_rossi_9620/orders")).json()["orders"]
    assert [o["order_id"] for o in orders] == [
        "#W6247578",
        "#W9711842",
        "#W4776164",
        "#W6679257",
        RETURN_ORDER,
    ]
    by_id = {o["order_id"]: o for o in orders}
    assert by_id[RETURN_ORDER] == {
        "order_id": RETURN_ORDER,
        "status": "delivered",
        "created_at": None,
        "item_count": 5,
        "total": 1819.92,
        "currency": "CNY",
    }


@pytest.mark.parametrize("path", ["/users/nobody_1", "/users/nobody_1/orders"])
async def test_unknown_user_is_404(shop: httpx.AsyncClient, path: str) -> None:
    assert_error(await shop.get(path), 404, "user_not_found")


@pytest.mark.parametrize("spelling", ["%23W2378156", "W2378156", "w2378156", "2378156"])
async def test_order_id_with_or_without_hash(shop: httpx.AsyncClient, spelling: str) -> None:
    order = (await shop.get(f"/orders/{spelling}")).json()
    assert order["order_id"] == RETURN_ORDER
    assert order["user_id"] == "yusuf_rossi_9620"
    assert order["status"] == "delivered"
    assert [i["name"] for i in order["items"]][:2] == ["Headphones", "Vacuum Cleaner"]
    assert order["items"][0]["options"] == {
        "type": "over-ear",
        "connectivity": "wireless",
        "color": "blue",
    }
    assert order["fulfillments"][0]["tracking_id"] == ["843053632392"]
    assert order["payment_history"] == [
        {
            "transaction_type": "payment",
            "amount": 1819.92,
            "payment_method_id": "credit_card_9513926",
        }
    ]
    assert order["total"] == 1819.92


async def test_order_errors(shop: httpx.AsyncClient) -> None:
    assert_error(await shop.get("/orders/W0000000"), 404, "order_not_found")
    assert_error(await shop.get("/orders/not-an-order"), 400, "invalid_param")


async def test_product_with_variants(shop: httpx.AsyncClient) -> None:
    product = (await shop.get("/products/9523456873")).json()
    assert product["name"] == "T-Shirt"
    variant = next(v for v in product["variants"] if v["item_id"] == "9612497925")
    assert variant == {
        "item_id": "9612497925",
        "options": {"color": "blue", "size": "M", "material": "cotton", "style": "crew neck"},
        "available": True,
        "price": 50.88,
    }
    assert product["available_variants"] == sum(v["available"] for v in product["variants"])
    assert_error(await shop.get("/products/0"), 404, "product_not_found")


async def test_cancel_pending_order_refunds_and_persists(shop: httpx.AsyncClient) -> None:
    response = await shop.post(
        f"/orders/{PENDING_ORDER[1:]}/cancel", json={"reason": "no longer needed"}
    )
    assert response.status_code == 200, response.text
    order = (await shop.get(f"/orders/{PENDING_ORDER[1:]}")).json()
    assert response.json() == order
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "no longer needed"
    assert order["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 53.27,
        "payment_method_id": "credit_card_9513926",
    }
    again = await shop.post(
        f"/orders/{PENDING_ORDER[1:]}/cancel", json={"reason": "no longer needed"}
    )
    assert "cancelled" in assert_error(again, 409, "order_not_pending")["message"]


async def test_cancel_refunds_a_gift_card_at_once(shop: httpx.AsyncClient) -> None:
    response = await shop.post("/orders/W1130240/cancel", json={"reason": "ordered by mistake"})
    assert response.json()["status"] == "cancelled"
    user = (await shop.get("/users/liam_li_8526")).json()
    card = next(m for m in user["payment_methods"] if m["id"] == "gift_card_5427896")
    assert card["balance"] == 523.88  # 11.00 + 512.88


@pytest.mark.parametrize(
    ("order", "body", "status", "code"),
    [
        (RETURN_ORDER, {"reason": "no longer needed"}, 409, "order_not_pending"),
        (PENDING_ORDER, {"reason": "too expensive"}, 400, "invalid_param"),
        (PENDING_ORDER, {}, 400, "invalid_param"),
        ("#W0000000", {"reason": "no longer needed"}, 404, "order_not_found"),
    ],
)
async def test_cancel_errors(
    shop: httpx.AsyncClient, order: str, body: dict[str, str], status: int, code: str
) -> None:
    assert_error(await shop.post(f"/orders/{order[1:]}/cancel", json=body), status, code)
    if order == PENDING_ORDER:
        assert (await shop.get(f"/orders/{order[1:]}")).json()["status"] == "pending"


async def test_cancel_body_that_is_not_json(shop: httpx.AsyncClient) -> None:
    response = await shop.post(
        "/orders/W6247578/cancel", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


async def test_return_delivered_items_and_read_back(shop: httpx.AsyncClient) -> None:
    body = {"item_ids": ["4602305039", "4202497723"], "payment_method_id": "credit_card_9513926"}
    response = await shop.post("/orders/W2378156/return", json=body)
    assert response.status_code == 200, response.text
    order = (await shop.get("/orders/W2378156")).json()
    assert order["status"] == "return requested"
    assert order["return_items"] == ["4202497723", "4602305039"]
    assert order["return_payment_method_id"] == "credit_card_9513926"
    again = await shop.post("/orders/W2378156/return", json=body)
    assert_error(again, 409, "order_not_delivered")


async def test_return_may_go_to_a_gift_card(shop: httpx.AsyncClient) -> None:
    body = {"item_ids": ["9408160950"], "payment_method_id": "gift_card_5427896"}
    response = await shop.post("/orders/W8838515/return", json=body)  # paid by PayPal
    assert response.json()["status"] == "return requested"


CARD = "credit_card_9513926"  # Yusuf's only payment method, used for #W2378156


def ret(item_ids: list[str], payment_method_id: str = CARD) -> dict[str, Any]:
    return {"item_ids": item_ids, "payment_method_id": payment_method_id}


@pytest.mark.parametrize(
    ("order", "body", "status", "code"),
    [
        ("W6247578", ret(["9612497925"]), 409, "order_not_delivered"),  # pending
        ("W2378156", ret(["9612497925"]), 400, "invalid_param"),  # not in the order
        ("W2378156", ret(["4202497723", "4202497723"]), 400, "invalid_param"),  # only one
        ("W2378156", ret([]), 400, "invalid_param"),
        ("W2378156", ret(["4202497723"], "paypal_9619477"), 400, "invalid_param"),  # not his
        ("W8838515", ret(["9408160950"], "credit_card_9513926"), 400, "invalid_param"),
        ("W0000000", ret(["1"]), 404, "order_not_found"),
    ],
)
async def test_return_rules(
    shop: httpx.AsyncClient, order: str, body: dict[str, Any], status: int, code: str
) -> None:
    assert_error(await shop.post(f"/orders/{order}/return", json=body), status, code)
    if order == "W2378156":
        assert (await shop.get(f"/orders/{order}")).json()["status"] == "delivered"


async def test_unknown_route_and_method_use_the_envelope(shop: httpx.AsyncClient) -> None:
    assert_error(await shop.get("/nowhere"), 404, "not_found")
    assert_error(await shop.delete("/orders/W2378156"), 405, "method_not_allowed")


async def test_bearer_token_guards_everything_but_health(shop_db: Path) -> None:
    async with shop_client(shop_db, token="s3cret") as client:
        assert (await client.get("/health")).status_code == 200
        response = await client.get("/users/liam_li_8526")
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer nope"}
        assert_error(await client.get("/users/liam_li_8526", headers=wrong), 401, "unauthorized")
        right = {"Authorization": "Bearer s3cret"}
        assert (await client.get("/users/liam_li_8526", headers=right)).status_code == 200
