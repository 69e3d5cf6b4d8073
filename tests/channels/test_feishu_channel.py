"""The Feishu bot end to end: encrypted, signed events from a local mock Feishu platform;
answers through im/v1/messages with a cached tenant_access_token."""

from __future__ import annotations

import time

import httpx

from tests.channels.conftest import Shop
from tests.channels.serving import wait_until

HOURS = "We are open 9:00-18:00, Monday to Friday."


def test_the_url_check_returns_the_challenge(shop: Shop) -> None:
    response = shop.feishu.url_verification("ch-123")
    assert response.status_code == 200
    assert response.json() == {"challenge": "ch-123"}
    forged = shop.feishu.url_verification("ch-123", token="wrong")
    assert forged.status_code == 401


def test_a_message_is_answered_and_the_token_reused(shop: Shop) -> None:
    _, response = shop.feishu.user_says("oc_chat1", "opening times")
    assert response.status_code == 200
    assert wait_until(lambda: shop.feishu.texts_to("oc_chat1"), "the answer") == [HOURS]
    fetches = shop.feishu.token_fetches
    shop.feishu.user_says("oc_chat1", "where can I park")
    wait_until(lambda: len(shop.feishu.texts_to("oc_chat1")) == 2, "the second answer")
    assert shop.feishu.token_fetches == fetches  # cached


def test_a_redelivered_event_is_answered_once(shop: Shop) -> None:
    message_id, _ = shop.feishu.user_says("oc_chat2", "opening times")
    shop.feishu.user_says("oc_chat2", "opening times", message_id=message_id)
    wait_until(lambda: shop.feishu.texts_to("oc_chat2"), "the answer")
    time.sleep(0.3)
    assert shop.feishu.texts_to("oc_chat2") == [HOURS]


def test_an_invalid_token_is_refreshed(shop: Shop) -> None:
    shop.feishu.user_says("oc_chat3", "opening times")
    wait_until(lambda: shop.feishu.texts_to("oc_chat3"), "the answer")
    fetches = shop.feishu.token_fetches
    shop.feishu.expire_tokens()
    shop.feishu.user_says("oc_chat3", "opening times please")
    wait_until(lambda: len(shop.feishu.texts_to("oc_chat3")) == 2, "the answer after refresh")
    assert shop.feishu.token_fetches == fetches + 1


def test_a_tampered_signature_is_refused(shop: Shop) -> None:
    body = b'{"encrypt": "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}'
    headers = {"X-Lark-Request-Timestamp": "1", "X-Lark-Request-Nonce": "n",
               "X-Lark-Signature": "0" * 64, "Content-Type": "application/json"}  # fmt: skip
    response = httpx.post(shop.callback("feishu"), content=body, headers=headers)
    assert response.status_code == 401
    assert "X-Lark-Signature" in response.json()["message"]


def test_an_event_with_the_wrong_token_is_refused(shop: Shop) -> None:
    _, response = shop.feishu.user_says("oc_chat4", "opening times", token="forged")
    assert response.status_code == 401
    time.sleep(0.2)
    assert shop.feishu.texts_to("oc_chat4") == []
