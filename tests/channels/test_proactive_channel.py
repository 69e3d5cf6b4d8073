"""Proactive offers reach channel customers on their channel (issue 18, item 4): the
integrator's backend reports an event for a customer who wrote through the webhook channel,
and the offer goes out there, once; a customer without a channel conversation gets it back in
the response for the backend to show."""

from __future__ import annotations

import time

import httpx

from tests.channels.conftest import Shop
from tests.channels.serving import wait_until
from tests.channels.test_webhook_channel import answers_to, post

INVOICE = "Your order is paid. Need an invoice?"


def test_an_offer_goes_to_the_customers_channel_conversation_once(shop: Shop) -> None:
    post(shop, {"message_id": "m-pro-1", "user": "u-pro", "text": "opening times"})
    [answer] = wait_until(lambda: answers_to(shop, "u-pro"), "the answer")
    app_key = shop.runtime.apps.new_key(shop.runtime.apps.get("shop"), "app")[1]
    event = {"event": "order_paid", "properties": {"order_id": "W1234567"}, "user": "hooks:u-pro"}
    with httpx.Client(base_url=shop.url, headers={"Authorization": f"Bearer {app_key}"}) as http:
        reply = http.post("/v1/events", json=event)
        assert reply.status_code == 200, reply.text
        assert reply.json()["offers"] == []
        [delivered] = reply.json()["delivered"]
        assert delivered["conversation_id"] == answer.json["conversation_id"]
        assert http.post("/v1/events", json=event).json() == {"offers": [], "delivered": []}
        # Without a channel conversation the backend gets the offer to show.
        elsewhere = http.post("/v1/events", json={**event, "user": "app-user-7"}).json()
        assert [o["message"] for o in elsewhere["offers"]] == [INVOICE]
        assert elsewhere["delivered"] == []
    deliveries = wait_until(
        lambda: len(answers_to(shop, "u-pro")) == 2 and answers_to(shop, "u-pro"), "the offer"
    )
    offer = deliveries[1].json
    assert (offer["kind"], offer["text"]) == ("notice", INVOICE)
    assert offer["message_id"] == delivered["id"]
    time.sleep(0.2)
    assert len(answers_to(shop, "u-pro")) == 2  # the repeated event sent nothing
