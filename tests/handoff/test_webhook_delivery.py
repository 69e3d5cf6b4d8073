"""Webhooks are signed over the raw body and retried with backoff, against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from kefu.appfile.handoff_config import WebhookConfig
from kefu.handoff.webhooks import WebhookDispatcher, WebhookTarget, sign, verify
from tests.handoff.receiver import Receiver, running_receiver

SECRET = b"s3cret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    import hashlib
    import hmac

    body = b'{"created_at": 1700000000, "event": "handoff"}'
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == expected
    assert verify(SECRET, body, expected, now=1700000100)
    assert not verify(SECRET, body + b" ", expected, now=1700000100)  # tampered
    assert not verify(b"other", body, expected, now=1700000100)  # wrong secret
    assert not verify(SECRET, body, expected, now=1700009999)  # replayed much later


def test_secret_comes_from_the_environment_or_the_file() -> None:
    from_env = WebhookConfig(url="http://x", secret_env="KEFU_HOOK_SECRET")
    assert from_env.resolve_secret({"KEFU_HOOK_SECRET": "abc"}) == b"abc"
    assert from_env.resolve_secret({}) is None
    inline = WebhookConfig.model_validate({"url": "http://x", "secret": "xyz"})
    assert inline.resolve_secret({}) == b"xyz"
    with pytest.raises(ValueError, match="exactly one"):
        WebhookConfig(url="http://x")


async def test_delivery_is_signed_and_retried_until_it_succeeds(receiver: Receiver) -> None:
    receiver.fail_next = [500, 503]
    dispatcher = WebhookDispatcher(backoff_s=0.01)
    target = WebhookTarget(receiver.url, SECRET, max_attempts=5, timeout_s=2)
    delivery_id = dispatcher.send(target, "handoff", "desk", {"conversation_id": "c1"})
    await dispatcher.drain()
    attempts = receiver.events("handoff")
    assert len(attempts) == 3
    assert {a.headers["x-kefu-delivery"] for a in attempts} == {delivery_id}
    for attempt in attempts:
        assert verify(SECRET, attempt.body, attempt.headers["x-kefu-signature"])
        assert attempt.headers["x-kefu-timestamp"] == str(attempt.json["created_at"])
    assert attempts[0].json["data"] == {"conversation_id": "c1"}
    assert attempts[0].json["app"] == "desk"


async def test_a_client_error_is_final_and_attempts_are_bounded(receiver: Receiver) -> None:
    dispatcher = WebhookDispatcher(backoff_s=0.01)
    receiver.fail_next = [400]
    dispatcher.send(WebhookTarget(receiver.url, SECRET), "reply", "desk", {})
    await dispatcher.drain()
    assert len(receiver.events("reply")) == 1

    receiver.fail_next = [500] * 10
    dispatcher.send(WebhookTarget(receiver.url, SECRET, max_attempts=3), "resolve", "desk", {})
    await dispatcher.drain()
    assert len(receiver.events("resolve")) == 3


async def test_an_unreachable_desk_never_blocks_the_sender() -> None:
    dispatcher = WebhookDispatcher(backoff_s=0.01)
    started = time.perf_counter()
    dispatcher.send(WebhookTarget("http://127.0.0.1:9/", SECRET, max_attempts=2), "x", "d", {})
    assert time.perf_counter() - started < 0.05
    assert dispatcher.pending == 1
    await dispatcher.drain()
    assert dispatcher.pending == 0
