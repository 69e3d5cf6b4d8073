"""Dialog acts: what a short message says as a whole, and corrections of a flow."""

from __future__ import annotations

import pytest

from kefu.nlu.dialog_acts import detect_act, is_correction


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("不是这个", "deny"),
        ("不是这个问题。", "deny"),
        ("算了，不用了", "cancel"),
        ("不用了，谢谢", "cancel"),
        ("不是，算了", "cancel"),
        ("not that", "deny"),
        ("never mind, thanks", "cancel"),
        ("好的", "affirm"),
        ("好的，不用了", None),  # an affirmation and a cancel: no single act
        ("不是很清楚", None),
    ],
)
def test_the_whole_message_is_one_act(text: str, act: str | None) -> None:
    assert detect_act(text) == act


@pytest.mark.parametrize(
    "text",
    [
        "不是，我问的是退货运费",
        "不对，是退货要扣多少运费",
        "我问的是退货要扣多少运费",
        "我的意思是能不能发顺丰",
        "No, I meant how much return shipping costs",
        "I meant the payment methods",
        "never mind, what payment methods do you accept?",
    ],
)
def test_corrections(text: str) -> None:
    assert is_correction(text)


@pytest.mark.parametrize(
    "text",
    [
        "不是很清楚怎么退货",  # a denial word, but no correction
        "不是",  # a denial alone: a dialog act, not a correction
        "我想问一下运费",
        "no",
        "Actually my order number is #W1234567",
        "not really sure how returns work",
    ],
)
def test_not_corrections(text: str) -> None:
    assert not is_correction(text)
