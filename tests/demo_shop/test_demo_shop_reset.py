"""``POST /_reset`` (with fault injection on): the shop's data as shipped again, the fault
cleared, so a conversation test suite can run twice against one shop."""

from __future__ import annotations

from pathlib import Path

from tests.demo_shop.helpers import shop_client


async def test_reset_restores_a_cancelled_order_and_clears_the_fault(shop_db: Path) -> None:
    async with shop_client(shop_db, faults=True) as shop:
        cancel = {"reason": "ordered by mistake"}
        assert (await shop.post("/orders/W6247578/cancel", json=cancel)).status_code == 200
        assert (await shop.get("/orders/W6247578")).json()["status"] == "cancelled"
        await shop.post("/_faults", json={"status": 503, "paths": ["/users"]})
        assert (await shop.get("/users/liam_li_8526")).status_code == 503

        reset = await shop.post("/_reset")

        assert reset.status_code == 200 and reset.json() == {"reset": True}
        assert (await shop.get("/orders/W6247578")).json()["status"] == "pending"
        assert (await shop.get("/users/liam_li_8526")).status_code == 200
        assert (await shop.get("/_faults")).json() is None


async def test_reset_needs_the_fault_switch(shop_db: Path) -> None:
    async with shop_client(shop_db) as shop:
        assert (await shop.post("/_reset")).status_code == 404
