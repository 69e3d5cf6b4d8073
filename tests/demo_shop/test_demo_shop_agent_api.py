"""The shop endpoints τ²-bench's retail agent needs, with τ²'s rules: exchange, modify a
pending order's items, address or payment, change a default address, item and product
lookups, calculate, transfer; and the benchmark's reset and state fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu_demo_shop import create_shop_app
from tests.demo_shop.test_demo_shop_api import assert_error

LIAM_ORDER = "W1130240"  # pending Dumbbell Set 7159180318 (512.88), paid by gift card (11.00)
LIAM_CARD = "gift_card_5427896"
DUMBBELL_CHEAPER = "4422467033"  # 483.47, available
DUMBBELL_DEARER = "3877338112"  # 545.68, available
DUMBBELL_GONE = "8140269513"  # not available
YUSUF_ORDER = "W2378156"  # delivered; keyboard 1151293680 (272.33)
ADDRESS = {
    "address1": "1 Lake Rd",
    "address2": "Apt 2",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "73301",
}


def swap(old: str, new: str, method: str = LIAM_CARD) -> dict[str, Any]:
    return {"item_ids": [old], "new_item_ids": [new], "payment_method_id": method}


async def gift_balance(shop: httpx.AsyncClient) -> float:
    user = (await shop.get("/users/liam_li_8526")).json()
    return float(next(m for m in user["payment_methods"] if m["id"] == LIAM_CARD)["balance"])


async def test_modify_items_refunds_the_difference_and_happens_once(
    shop: httpx.AsyncClient,
) -> None:
    response = await shop.post(
        f"/orders/{LIAM_ORDER}/items", json=swap("7159180318", DUMBBELL_CHEAPER)
    )
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "pending (item modified)"
    [item] = order["items"]
    assert (item["item_id"], item["price"]) == (DUMBBELL_CHEAPER, 483.47)
    assert item["options"]["material"] == "urethane"
    assert order["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": 29.41,
        "payment_method_id": LIAM_CARD,
    }
    assert await gift_balance(shop) == 40.41  # 11.00 + 29.41, at once
    again = await shop.post(
        f"/orders/{LIAM_ORDER}/items", json=swap(DUMBBELL_CHEAPER, "2444431651")
    )
    assert_error(again, 409, "order_not_pending")
    cancel = await shop.post(f"/orders/{LIAM_ORDER}/cancel", json={"reason": "no longer needed"})
    assert_error(cancel, 409, "order_not_pending")
    # The address may still change ("pending" is in the status), as in τ².
    moved = await shop.post(f"/orders/{LIAM_ORDER}/address", json=ADDRESS)
    assert moved.json()["address"] == ADDRESS


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (swap("7159180318", DUMBBELL_DEARER), 409, "insufficient_balance"),  # 32.80 > 11.00
        (swap("7159180318", DUMBBELL_GONE), 409, "item_not_available"),
        (swap("7159180318", "1199058591"), 400, "invalid_param"),  # a notebook: other product
        (swap("7159180318", "7159180318"), 400, "invalid_param"),  # the item itself
        (swap("1151293680", DUMBBELL_CHEAPER), 400, "invalid_param"),  # not in the order
        (swap("7159180318", DUMBBELL_CHEAPER, "paypal_2299608"), 400, "invalid_param"),  # Mei's
        ({"item_ids": ["7159180318"], "new_item_ids": [], "payment_method_id": "x"}, 400,
         "invalid_param"),
    ],
)  # fmt: skip
async def test_modify_items_rules(
    shop: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    assert_error(await shop.post(f"/orders/{LIAM_ORDER}/items", json=body), status, code)
    order = (await shop.get(f"/orders/{LIAM_ORDER}")).json()
    assert order["status"] == "pending" and order["items"][0]["item_id"] == "7159180318"
    assert await gift_balance(shop) == 11.0


async def test_exchange_a_delivered_item_for_another_variant(shop: httpx.AsyncClient) -> None:
    body = swap("1151293680", "7706410293", "credit_card_9513926")
    response = await shop.post(f"/orders/{YUSUF_ORDER}/exchange", json=body)
    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "exchange requested"
    assert order["exchange_items"] == ["1151293680"]
    assert order["exchange_new_items"] == ["7706410293"]
    assert order["exchange_price_difference"] == -3.17  # 269.16 − 272.33
    assert order["items"][2]["item_id"] == "1151293680"  # the order itself is unchanged
    assert_error(await shop.post(f"/orders/{YUSUF_ORDER}/exchange", json=body), 409,
                 "order_not_delivered")  # fmt: skip
    pending = await shop.post(
        f"/orders/{LIAM_ORDER}/exchange", json=swap("7159180318", DUMBBELL_CHEAPER)
    )
    assert_error(pending, 409, "order_not_delivered")


async def test_modify_payment_moves_the_charge_and_refunds_a_gift_card(
    shop: httpx.AsyncClient,
) -> None:
    response = await shop.post(
        f"/orders/{LIAM_ORDER}/payment", json={"payment_method_id": "paypal_9619477"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["payment_history"][-2:] == [
        {"transaction_type": "payment", "amount": 512.88, "payment_method_id": "paypal_9619477"},
        {"transaction_type": "refund", "amount": 512.88, "payment_method_id": LIAM_CARD},
    ]
    assert await gift_balance(shop) == 523.88
    # Now two payments are on record: τ² allows a change only from a single payment.
    again = await shop.post(f"/orders/{LIAM_ORDER}/payment", json={"payment_method_id": LIAM_CARD})
    assert_error(again, 409, "payment_not_changeable")
    same = await shop.post(
        "/orders/W6247578/payment", json={"payment_method_id": "credit_card_9513926"}
    )
    assert_error(same, 400, "invalid_param")  # already paid with it
    delivered = await shop.post(
        f"/orders/{YUSUF_ORDER}/payment", json={"payment_method_id": "credit_card_9513926"}
    )
    assert_error(delivered, 409, "order_not_pending")


async def test_change_default_address_then_find_by_the_new_zip(shop: httpx.AsyncClient) -> None:
    response = await shop.post("/users/yusuf_rossi_9620/address", json=ADDRESS)
    assert response.status_code == 200 and response.json()["address"] == ADDRESS
    found = await shop.get(
        "/users/find", params={"first_name": "yusuf", "last_name": "rossi", "zip": "73301"}
    )
    assert found.json()["user_id"] == "yusuf_rossi_9620"
    assert_error(await shop.post("/users/nobody_1/address", json=ADDRESS), 404, "user_not_found")
    assert_error(
        await shop.post("/users/yusuf_rossi_9620/address", json={"city": "X"}), 400,
        "invalid_param",
    )  # fmt: skip


async def test_item_product_types_calculate_and_transfer(shop: httpx.AsyncClient) -> None:
    item = (await shop.get("/items/7706410293")).json()
    assert item["product_name"] == "Mechanical Keyboard" and item["price"] == 269.16
    assert_error(await shop.get("/items/123"), 404, "item_not_found")
    products = (await shop.get("/products")).json()["products"]
    assert len(products) == 50 and products["Mechanical Keyboard"] == "1656367028"
    assert list(products) == sorted(products)
    calc = await shop.post("/calculate", json={"expression": "(272.33 - 269.16) * 2 / 3"})
    assert calc.json()["result"] == "2.11"
    for bad in ("__import__('os')", "2 ** 8", "1 / 0", "(1"):
        assert_error(await shop.post("/calculate", json={"expression": bad}), 400,
                     "invalid_param")  # fmt: skip
    transfer = await shop.post("/transfers", json={"summary": "wants a refund in cash"})
    assert transfer.json()["result"] == "Transfer successful"


async def test_bench_reset_and_state_only_with_the_flag(shop_db: Path, source: Path) -> None:
    plain = create_shop_app(shop_db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=plain), base_url="http://shop.test"
    ) as client:
        assert_error(await client.get("/_bench/state"), 404, "not_found")
    bench = create_shop_app(shop_db, bench=True, source=source)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=bench), base_url="http://shop.test"
    ) as client:
        before = (await client.get("/_bench/state")).json()
        assert len(before["rows"]) == 500 + 1000 + 50
        await client.post("/orders/W6247578/cancel", json={"reason": "no longer needed"})
        after = (await client.get("/_bench/state")).json()
        changed = [k for k in before["rows"] if before["rows"][k] != after["rows"][k]]
        assert changed == ["orders/#W6247578"] and after["hash"] != before["hash"]
        reset = (await client.post("/_bench/reset")).json()
        assert reset["hash"] == before["hash"]
        order = (await client.get("/orders/W6247578")).json()
        assert order["status"] == "pending"
