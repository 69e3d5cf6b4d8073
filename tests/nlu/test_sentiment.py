"""Sentiment: the labelled customer-service fixture, negation, intensifiers, neutral questions."""

from __future__ import annotations

import json
import timeit
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.nlu.sentiment import Sentiment, analyze_sentiment

CASES = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "fixtures" / "sentiment_cases.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


def test_fixture_is_balanced_and_realistic() -> None:
    assert len(CASES) >= 80
    for language in ("zh", "en"):
        for label in ("negative", "neutral", "positive"):
            assert sum(c["language"] == language and c["label"] == label for c in CASES) >= 8


def test_accuracy_on_labelled_customer_messages() -> None:
    misses = [
        (case["text"], case["label"], got.label, got.cues)
        for case in CASES
        if (got := analyze_sentiment(case["text"], case["language"])).label != case["label"]
    ]
    accuracy = 1 - len(misses) / len(CASES)
    assert accuracy >= 0.85, misses


def test_language_hint_only_narrows_the_lexicon() -> None:
    for case in CASES:
        assert (
            analyze_sentiment(case["text"]).label
            == analyze_sentiment(case["text"], case["language"]).label
        )
    assert analyze_sentiment("谢谢", "en").label == "neutral"
    assert analyze_sentiment("订单到了 thanks").label == "positive"  # mixed languages


@pytest.mark.parametrize(
    ("text", "label", "cue"),
    [
        ("不满意", "negative", "不满意"),
        ("我不太满意", "negative", "不太满意"),
        ("不是很满意", "negative", "不是很满意"),
        ("不错", "positive", "不错"),
        ("不喜欢", "negative", "不喜欢"),
        ("not happy", "negative", "not happy"),
        ("I'm not very happy", "negative", "not very happy"),
        ("not bad", "positive", "not bad"),
        ("I don’t like it", "negative", "don’t like"),  # curly apostrophe
    ],
)
def test_negation(text: str, label: str, cue: str) -> None:
    result = analyze_sentiment(text)
    assert result.label == label
    assert cue in result.cues


def test_negation_does_not_reach_across_a_clause() -> None:
    assert analyze_sentiment("不是我的问题，满意").label == "positive"
    assert analyze_sentiment("No, thanks a lot for the help").label == "positive"


def test_intensifiers_strengthen() -> None:
    assert analyze_sentiment("非常满意").score > analyze_sentiment("满意").score
    assert analyze_sentiment("太失望").score < analyze_sentiment("失望").score
    assert analyze_sentiment("very happy").score > analyze_sentiment("happy").score
    assert analyze_sentiment("so angry").score < analyze_sentiment("angry").score
    assert analyze_sentiment("非常满意").cues == ("非常满意",)


@pytest.mark.parametrize(
    "text",
    [
        "怎么退货",
        "能退款吗",
        "请问什么时候发货",
        "麻烦帮我查一下",
        "不好意思，我填错地址了",
        "你好，在吗",
        "How do I return this?",
        "Good morning, what kind of warranty does it have?",
        "好用吗",  # asks, does not praise
        "Is it good?",
    ],
)
def test_plain_questions_are_neutral(text: str) -> None:
    assert analyze_sentiment(text).label == "neutral"


def test_empty_text() -> None:
    assert analyze_sentiment("") == Sentiment("neutral", 0.0, ())


def test_complaint_questions_are_negative() -> None:
    assert analyze_sentiment("我的订单怎么还没发货").label == "negative"
    assert analyze_sentiment("为什么还没退款？").label == "negative"
    assert analyze_sentiment("你们是骗子吗？").label == "negative"


def test_punctuation_and_shouting() -> None:
    loud = analyze_sentiment("我的快递呢！！")
    assert loud.label == "negative" and "！！" in loud.cues
    assert analyze_sentiment("发货了吗？？？").label == "negative"
    shouting = analyze_sentiment("WHERE IS MY REFUND")
    assert shouting.label == "negative" and "ALL CAPS" in shouting.cues
    assert analyze_sentiment("Thanks!!").label == "positive"  # !! sharpens what is there
    assert analyze_sentiment("I paid with USD via PayPal").label == "neutral"  # acronyms


def test_latin_terms_match_whole_words() -> None:
    assert analyze_sentiment("I badly need the glass tomorrow").cues == ()  # not "bad", "ass"
    assert analyze_sentiment("I also need it").label == "neutral"  # "so" inside "also"


def test_contrast_weighs_what_follows() -> None:
    result = analyze_sentiment("谢谢，但是还是没收到")
    assert result.label == "negative"
    assert analyze_sentiment("虽然慢了点，但是东西很好").label == "positive"


def test_score_range_and_cues_for_the_trace() -> None:
    result = analyze_sentiment("垃圾商家，骗子！乱收费！！我要投诉")
    assert result.label == "negative"
    assert -1 <= result.score <= -0.9
    assert {"垃圾", "骗子", "乱收费", "我要投诉"} <= set(result.cues)


def test_fast_enough_for_every_message() -> None:
    message = "我的订单怎么还没发货，你们到底有没有人"
    per_call = min(timeit.repeat(lambda: analyze_sentiment(message), number=200, repeat=3)) / 200
    assert per_call < 0.001  # target 0.1 ms; generous for slow CI machines


@given(st.text(max_size=60))
def test_any_text_scores_within_range(text: str) -> None:
    result = analyze_sentiment(text)
    assert -1 <= result.score <= 1
    assert (result.label == "neutral") == (abs(result.score) < 0.3)
