"""WeCom customer service end to end: a real kefu server, a local mock WeCom server that
signs and encrypts its callbacks, and kefu pulling, answering and handing over through it."""

from __future__ import annotations

import time

import httpx
from prometheus_client import REGISTRY

from tests.channels.conftest import Shop
from tests.channels.serving import wait_until

HOURS = "We are open 9:00-18:00, Monday to Friday."


def counted(metric: str, outcome: str) -> float:
    labels = {"app": "shop", "channel": "wecom_kf", "outcome": outcome}
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_the_callback_url_check_echoes_the_decrypted_echostr(shop: Shop) -> None:
    response, expected = shop.wecom.verify_url(shop.callback("wecom"))
    assert response.status_code == 200
    assert response.text == expected


def test_a_forged_callback_is_refused_in_the_error_envelope(shop: Shop) -> None:
    query, body = shop.wecom.callback("wk-queue")
    query["msg_signature"] = "0" * 40
    response = httpx.post(shop.callback("wecom"), params=query, content=body)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert "msg_signature" in response.json()["message"]


def test_a_customer_question_is_answered_through_send_msg(shop: Shop) -> None:
    msgid = shop.wecom.customer_says("wk-inbox", "wm-alice", "What are your opening hours?")
    response = shop.wecom.notify("wk-inbox")
    assert (response.status_code, response.text) == (200, "success")
    texts = wait_until(lambda: shop.wecom.texts_to("wm-alice"), "kefu's answer")
    assert texts == [HOURS]
    sent = next(m for m in shop.wecom.sent if m["touser"] == "wm-alice")
    assert sent["open_kfid"] == "wk-inbox" and sent["msgtype"] == "text"
    assert len(sent["msgid"]) <= 32 and msgid not in sent["msgid"]


def test_a_duplicate_delivery_is_answered_once(shop: Shop) -> None:
    duplicates = counted("kefu_channel_messages_total", "duplicate")
    shop.wecom.customer_says("wk-inbox", "wm-bob", "When are you open?")
    shop.wecom.notify("wk-inbox")
    wait_until(lambda: shop.wecom.texts_to("wm-bob"), "the first answer")
    # WeCom delivers the same message again (a lost acknowledgement): the stored cursor
    # has moved on, and a replayed cursor still meets the stored message id.
    with shop.wecom.lock:
        repeat = dict(shop.wecom.messages["wk-inbox"][-1])
        shop.wecom.messages["wk-inbox"].append(repeat)
    shop.wecom.notify("wk-inbox")
    shop.wecom.notify("wk-inbox")
    time.sleep(0.5)
    assert shop.wecom.texts_to("wm-bob") == [HOURS]
    assert counted("kefu_channel_messages_total", "duplicate") == duplicates + 1


def test_an_entering_customer_gets_the_opening_statement(shop: Shop) -> None:
    code = shop.wecom.customer_enters("wk-inbox", "wm-carol")
    shop.wecom.notify("wk-inbox")
    welcome = wait_until(
        lambda: [w for w in shop.wecom.welcomes if w["code"] == code], "the welcome"
    )
    assert welcome[0]["text"]["content"] == "Hi! I'm the shop's assistant."


def test_a_hand_over_transfers_to_the_wecom_servicer(shop: Shop) -> None:
    shop.wecom.customer_says("wk-queue", "wm-dave", "I want to talk to a human")
    shop.wecom.notify("wk-queue")
    transfers = wait_until(
        lambda: [t for t in shop.wecom.transfers if t["external_userid"] == "wm-dave"],
        "service_state/trans",
    )
    assert transfers == [
        {"open_kfid": "wk-queue", "external_userid": "wm-dave", "service_state": 3,
         "servicer_userid": "zhangsan"}
    ]  # fmt: skip
    # The customer heard the bot's hand-over line first; afterwards the bot stays silent.
    assert len(shop.wecom.texts_to("wm-dave")) == 1
    shop.wecom.customer_says("wk-queue", "wm-dave", "hello? anyone?")
    shop.wecom.notify("wk-queue")
    time.sleep(0.5)
    assert len(shop.wecom.texts_to("wm-dave")) == 1
    # The servicer ends the session in WeCom: the bot answers the customer's next question.
    shop.wecom.servicer_ends("wk-queue", "wm-dave")
    shop.wecom.customer_says("wk-queue", "wm-dave", "opening times")
    shop.wecom.notify("wk-queue")
    texts = wait_until(lambda: shop.wecom.texts_to("wm-dave")[1:], "the bot, back")
    assert texts == [HOURS]


def test_in_kefu_inbox_mode_agent_replies_reach_the_customer(shop: Shop) -> None:
    shop.wecom.customer_says("wk-inbox", "wm-erin", "I want to talk to a human")
    shop.wecom.notify("wk-inbox")
    wait_until(lambda: shop.wecom.texts_to("wm-erin"), "the hand-over line")
    assert not [t for t in shop.wecom.transfers if t["external_userid"] == "wm-erin"]
    admin = {"Authorization": "Bearer admin-test-key"}
    with httpx.Client(base_url=shop.url, headers=admin) as http:
        inbox = http.get("/v1/agent/inbox").json()["data"]
        waiting = [c for c in inbox if c["user"] == "wecom-inbox:wk-inbox:wm-erin"]
        assert waiting, inbox
        reply = http.post(
            f"/v1/agent/conversations/{waiting[0]['conversation_id']}/reply",
            json={"text": "我是客服小王"},
        )
        assert reply.status_code == 200, reply.text
    texts = wait_until(
        lambda: len(shop.wecom.texts_to("wm-erin")) == 2 and shop.wecom.texts_to("wm-erin"),
        "the agent's reply",
    )
    assert texts[-1] == "我是客服小王"


def test_an_expired_token_is_refreshed_and_the_answer_still_sent(shop: Shop) -> None:
    before = shop.wecom.token_fetches
    shop.wecom.expire_tokens()
    shop.wecom.customer_says("wk-inbox", "wm-frank", "opening times")
    shop.wecom.notify("wk-inbox")
    assert wait_until(lambda: shop.wecom.texts_to("wm-frank"), "the answer") == [HOURS]
    assert shop.wecom.token_fetches == before + 1
    assert shop.wecom.refused_tokens >= 1  # 42001 seen, then a new token


def test_a_busy_send_is_retried_then_given_up_after_max_attempts(shop: Shop) -> None:
    retried = counted("kefu_channel_sends_total", "retried")
    shop.wecom.fail_send.extend([-1, -1])  # "system busy" twice
    shop.wecom.customer_says("wk-inbox", "wm-grace", "opening times")
    shop.wecom.notify("wk-inbox")
    assert wait_until(lambda: shop.wecom.texts_to("wm-grace"), "the answer") == [HOURS]
    assert counted("kefu_channel_sends_total", "retried") == retried + 2
    # wecom-inbox tries 5 times (the default): 5 busy answers and it gives up, counted.
    failed = counted("kefu_channel_sends_total", "failed")
    shop.wecom.fail_send.extend([-1] * 5)
    shop.wecom.customer_says("wk-inbox", "wm-grace", "where can I park")
    shop.wecom.notify("wk-inbox")
    wait_until(lambda: counted("kefu_channel_sends_total", "failed") == failed + 1, "giving up")
    assert shop.wecom.fail_send == [] and shop.wecom.texts_to("wm-grace") == [HOURS]


def test_an_image_gets_the_text_only_notice_once(shop: Shop) -> None:
    shop.wecom.customer_sends_image("wk-inbox", "wm-heidi")
    shop.wecom.notify("wk-inbox")
    texts = wait_until(lambda: shop.wecom.texts_to("wm-heidi"), "the notice")
    assert texts == ["Sorry, I can only read text messages for now; please describe your "
                     "question in words."]  # fmt: skip
