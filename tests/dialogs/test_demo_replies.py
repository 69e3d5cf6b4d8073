"""Every flow prompt, template and reply of the demo app, word for word, in zh and en.

The customer reads these sentences; a YAML comment that swallows half of one (``#W`` in an
unquoted value) or a template that renders badly must fail here. The expected texts live
in ``tests/fixtures/demo_replies.json``; after changing the demo app on purpose, rewrite
them with ``KEFU_UPDATE_GOLDEN=1 pytest tests/dialogs/test_demo_replies.py`` and read the
diff before committing it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.dialogs.script import Talk

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parents[1] / "fixtures" / "demo_replies.json"
# Each script is one conversation; the bot's reply to every line is checked.
SCRIPTS: dict[str, list[str]] = {
    "order_status.zh": ["我的订单还没发货,能查一下吗?", "#W2378156"],
    "order_status.en": ["Where is my order?", "#W2378156"],
    "order_status.not_found.zh": ["帮我查一下订单 #W0000001"],
    "order_status.not_found.en": ["Track my order #W0000001 please"],
    "cancel_order.zh": ["我要取消订单", "sofia.rossi2645@example.com", "#W5918442", "买错了", "是"],
    "cancel_order.en": [
        "please cancel my order",
        "fatima.anderson1447@example.com",
        "#W2974929",
        "I no longer need it",
        "yes",
    ],
    "cancel_order.not_yours.zh": [
        "帮我取消订单 #W2631563，买错了",
        "ethan.lopez8943@example.com",
        "是",
    ],
    "cancel_order.not_yours.en": [
        "Please cancel order #W2631563, I ordered by mistake",
        "ethan.lopez8943@example.com",
        "yes",
    ],
    "cancel_order.kept.en": [
        "Cancel order #W6779827, I ordered by mistake",
        "ethan.lopez8943@example.com",
        "no",
    ],
    "order_status.retry.en": ["track my order please", "I forgot"],
    "membership_downgrade.zh": ["为什么我的会员等级降级了?", "13900005678"],
    "membership_downgrade.en": ["Why was my membership downgraded?", "13900005678"],
    "membership_downgrade.not_found.zh": ["为什么我的会员等级降级了?", "13900000000"],
    "bill_explain.zh": ["我上个月流量费突然翻倍,是不是乱收费?", "13800001234"],
    "bill_explain.en": ["Why did my data bill double last month?", "13800001234"],
    "bill_explain.month.zh": ["帮我查一下流量卡账单", "13800001234"],
}
_BRACKETS = {"（": "）", "(": ")", "「": "」", "《": "》", "“": "”", "【": "】", "[": "]"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
# The demo shop's bills and membership history are dated relative to today.
_DATES = re.compile(r"\b20\d\d(-\d\d(-\d\d)?)?\b")


def _balanced(text: str) -> bool:
    stack: list[str] = []
    closing = set(_BRACKETS.values())
    for char in text:
        if char in _BRACKETS:
            stack.append(_BRACKETS[char])
        elif char in closing:
            if not stack or stack.pop() != char:
                return False
    return not stack


async def _replies(client: httpx.AsyncClient, user: str) -> dict[str, list[str]]:
    replies: dict[str, list[str]] = {}
    for name, lines in SCRIPTS.items():
        talk = Talk(client, f"{user}-{name}")
        replies[name] = [_DATES.sub("YYYY", await talk.say(line)) for line in lines]
    return replies


async def test_every_flow_reply_reads_as_written(
    client: httpx.AsyncClient, user: str, shop: str
) -> None:
    replies = await _replies(client, user)
    if os.environ.get("KEFU_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(replies, ensure_ascii=False, indent=1) + "\n", "utf-8")
    expected = json.loads(GOLDEN.read_text("utf-8"))
    for name, texts in replies.items():
        language = name.rsplit(".", 1)[1]
        for said, text in zip(SCRIPTS[name], texts, strict=True):
            where = f"{name}: {said!r} → {text!r}"
            assert _balanced(text), f"unbalanced brackets in {where}"
            assert "{{" not in text and "{%" not in text, f"template left in {where}"
            assert text.rstrip()[-1] in "。？！）.?!)", f"cut sentence in {where}"
            if language == "en":
                assert not _HAN.search(text), f"Chinese in an English reply: {where}"
            else:
                assert _HAN.search(text), f"no Chinese in a Chinese reply: {where}"
    assert replies == expected
