"""Escalations (legal threats, safety, fraud, complaints, "you're not helping") and requests
for a human, including the look-alikes that must not hand over."""

from __future__ import annotations

import pytest

from kefu.nlu.dialog_acts import wants_human
from kefu.nlu.escalation import detect_escalation


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("再不处理我就去消协投诉你们", "legal_threat"),
        ("我要找律师起诉你们", "legal_threat"),
        ("I'm going to sue you", "legal_threat"),
        ("电热毯漏电把手烫伤了", "safety"),
        ("The heater caught fire last night", "safety"),
        ("我的账号被盗了", "fraud"),
        ("There is an unauthorized charge on my card", "fraud"),
        ("什么破服务，气死我了", "complaint"),
        ("I want to file a complaint about the courier!", "complaint"),
        ("问了好几遍了，你怎么答不上来", "bot_unhelpful"),
        ("I've tried five times, it never works", "bot_unhelpful"),
        # look-alikes: negated, asking how, or another sense of the word
        ("我不是要投诉，就是问问退货要几天", None),
        ("I'm not going to sue anyone, how long do returns take?", None),
        ("投诉渠道在哪里可以看到？", None),
        ("How do I file a complaint about a courier?", None),
        ("这张优惠券我还没用过", None),
        ("我不傻，逼我也没用", None),
        ("包装盒有点压扁了，里面的东西没事", None),
        ("订单多久发货", None),
    ],
)
def test_escalations(text: str, kind: str | None) -> None:
    assert detect_escalation(text) == kind


@pytest.mark.parametrize(
    ("text", "human"),
    [
        ("能帮我接一下人工客服吗", True),
        ("算了，找个客服人员来吧", True),
        ("我要和活人聊", True),
        ("agent", True),
        ("get me a representative", True),
        ("Connect me with customer support staff, not a bot", True),
        ("不用转人工，我就问一下发票怎么开", False),
        ("不需要人工，谢谢", False),
        ("No need for a human, just the return address", False),
        ("Don't transfer me to an agent", False),
        ("I don't get it, I want a human agent", True),
        ("Are you a bot or a human?", False),
        ("人工草坪能退吗", False),
        ("Is this shampoo safe for human hair?", False),
    ],
)
def test_requests_for_a_human_and_their_look_alikes(text: str, human: bool) -> None:
    assert wants_human(text) is human
