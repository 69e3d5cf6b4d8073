"""The generic webhook channel: signed messages in, signed answers out to the integrator's
URL (the test receiver), retried, and idempotent by message id on both sides."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from kefu.channels.signing import sign
from tests.channels.conftest import WEBHOOK_SECRET, Shop
from tests.channels.serving import wait_until
from tests.handoff.receiver import Delivery

HOURS = "We are open 9:00-18:00, Monday to Friday."


def post(shop: Shop, payload: dict[str, Any], *, secret: str = WEBHOOK_SECRET,
         timestamp: str | None = None) -> httpx.Response:  # fmt: skip
    body = orjson.dumps(payload)
    timestamp = timestamp or str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Kefu-Timestamp": timestamp,
        "X-Kefu-Signature": sign(secret.encode(), timestamp, body),
    }
    return httpx.post(shop.callback("hooks"), content=body, headers=headers)


def answers_to(shop: Shop, user: str) -> list[Delivery]:
    with shop.receiver.lock:
        return [d for d in shop.receiver.deliveries if d.json.get("user") == user]


def test_a_signed_message_is_answered_at_the_integrators_url(shop: Shop) -> None:
    response = post(shop, {"message_id": "m-1", "user": "u-ann", "text": "opening times"})
    assert response.status_code == 202
    assert response.json() == {"accepted": True, "duplicate": False}
    [delivery] = wait_until(lambda: answers_to(shop, "u-ann"), "the answer")
    assert delivery.json["text"] == HOURS
    assert delivery.json["kind"] == "answer" and delivery.json["app"] == "shop"
    # Signed the same way as requests in, so the integrator can check it.
    timestamp = delivery.headers["x-kefu-timestamp"]
    assert delivery.headers["x-kefu-signature"] == sign(
        WEBHOOK_SECRET.encode(), timestamp, delivery.body
    )
    assert delivery.headers["x-kefu-delivery"] == delivery.json["message_id"]


def test_a_repeated_message_id_is_answered_once(shop: Shop) -> None:
    payload = {"message_id": "m-2", "user": "u-ben", "text": "opening times"}
    assert post(shop, payload).json()["duplicate"] is False
    assert post(shop, payload).json() == {"accepted": True, "duplicate": True}
    wait_until(lambda: answers_to(shop, "u-ben"), "the answer")
    time.sleep(0.3)
    assert len(answers_to(shop, "u-ben")) == 1


def test_forged_stale_and_malformed_requests_are_refused(shop: Shop) -> None:
    payload = {"message_id": "m-3", "user": "u-cat", "text": "hi"}
    forged = post(shop, payload, secret="not-the-secret")
    assert forged.status_code == 401 and "signature" in forged.json()["message"]
    stale = post(shop, payload, timestamp=str(int(time.time()) - 3600))
    assert stale.status_code == 401 and "replay window" in stale.json()["message"]
    unsigned = httpx.post(shop.callback("hooks"), json=payload)
    assert unsigned.status_code == 401
    missing = post(shop, {"message_id": "m-4", "user": "u-cat"})
    assert missing.status_code == 400 and "text is required" in missing.json()["message"]
    assert httpx.get(shop.callback("hooks")).status_code == 400
    time.sleep(0.2)
    assert answers_to(shop, "u-cat") == []


def test_a_failing_receiver_gets_the_same_delivery_again(shop: Shop) -> None:
    with shop.receiver.lock:
        shop.receiver.fail_next.extend([503, 429])
    post(shop, {"message_id": "m-5", "user": "u-dan", "text": "opening times"})
    deliveries = wait_until(
        lambda: len(answers_to(shop, "u-dan")) == 3 and answers_to(shop, "u-dan"), "3 attempts"
    )
    assert len({d.headers["x-kefu-delivery"] for d in deliveries}) == 1


def test_a_channel_without_its_secret_answers_503(shop: Shop) -> None:
    response = httpx.post(shop.callback("unset"), json={})
    assert response.status_code == 503
    assert "TEST_VARIABLE_NOBODY_SETS" in response.json()["message"]
    assert httpx.post(f"{shop.url}/channels/shop/nope", json={}).status_code == 404


def test_messages_arriving_together_continue_one_conversation(shop: Shop) -> None:
    with ThreadPoolExecutor(5) as pool:  # at the same moment
        list(pool.map(
            lambda i: post(shop, {"message_id": f"m-burst-{i}", "user": "u-eve",
                                  "text": "opening times"}),
            range(5),
        ))  # fmt: skip
    deliveries = wait_until(
        lambda: len(answers_to(shop, "u-eve")) == 5 and answers_to(shop, "u-eve"), "5 answers"
    )
    assert len({d.json["conversation_id"] for d in deliveries}) == 1


def test_a_hand_over_is_announced_and_agent_replies_follow(shop: Shop) -> None:
    post(shop, {"message_id": "m-h1", "user": "u-fay", "text": "I want to talk to a human"})
    [answer] = wait_until(lambda: answers_to(shop, "u-fay"), "the hand-over line")
    assert answer.json["handoff_state"] == "pending_human"
    admin = {"Authorization": "Bearer admin-test-key"}
    conversation = answer.json["conversation_id"]
    with httpx.Client(base_url=shop.url, headers=admin) as http:
        reply = http.post(f"/v1/agent/conversations/{conversation}/reply", json={"text": "在的"})
        assert reply.status_code == 200, reply.text
        http.post(f"/v1/agent/conversations/{conversation}/resolve")
    deliveries = wait_until(
        lambda: len(answers_to(shop, "u-fay")) == 3 and answers_to(shop, "u-fay"), "reply, notice"
    )
    assert [(d.json["kind"], d.json["agent"]) for d in deliveries[1:]] == [
        ("agent", "admin"), ("notice", None)
    ]  # fmt: skip
    assert deliveries[1].json["text"] == "在的"


def test_a_message_that_failed_inside_kefu_can_be_delivered_again(shop: Shop) -> None:
    chat = shop.runtime.chat
    prepare = chat.prepare
    broken: list[int] = []

    async def failing(request: Any) -> Any:
        broken.append(1)
        raise RuntimeError("the database went away")

    chat.prepare = failing  # type: ignore[method-assign]
    try:
        payload = {"message_id": "m-f1", "user": "u-gil", "text": "opening times"}
        assert post(shop, payload).json()["duplicate"] is False
        wait_until(lambda: broken, "the failed turn")
        time.sleep(0.2)
    finally:
        chat.prepare = prepare  # type: ignore[method-assign]
    assert post(shop, payload).json()["duplicate"] is False  # not dropped as a repeat
    [answer] = wait_until(lambda: answers_to(shop, "u-gil"), "the answer")
    assert answer.json["text"] == HOURS
