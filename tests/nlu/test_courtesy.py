"""Courtesy around a question comes off its ends, and only courtesy, only at the ends."""

from __future__ import annotations

import pytest

from kefu.engine.route_cache import faq_form_key
from kefu.nlu.courtesy import strip_courtesy


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("你好，请问退货运费谁出呢？谢谢", "退货运费谁出"),
        ("在吗？下单后还能改收货人吗", "下单后还能改收货人吗"),
        ("亲，支持7天无理由吗", "支持7天无理由吗"),
        ("客服你好，不想要了怎么退，急！", "不想要了怎么退"),
        ("麻烦问下，运费多少啊啊", "运费多少"),
        ("hi, how long does shipping take? thanks", "how long does shipping take"),
        ("Hi There!! Can I use two coupons pls", "can i use two coupons"),
        ("excuse me, when do i get my money back", "when do i get my money back"),
        ("quick question: is shipping free thx", "is shipping free"),
    ],
)
def test_the_courtesy_around_a_question_comes_off(text: str, question: str) -> None:
    assert strip_courtesy(text) == question


@pytest.mark.parametrize(
    "text",
    [
        "亲子装怎么退",  # 亲 starts a word: not a greeting without a pause after it
        "喂养指南在哪",
        "谢谢你们的发票怎么开",  # courtesy inside the sentence is content
        "hiking boots sizes",  # "hi" inside a word
        "heyday collection restock",
        "please",  # nothing but courtesy: unchanged
        "谢谢",
        "你好",
    ],
)
def test_only_courtesy_and_only_whole_phrases_come_off(text: str) -> None:
    assert strip_courtesy(text) == text


def test_an_faq_form_key_ignores_courtesy_case_width_and_punctuation() -> None:
    assert faq_form_key("你好，請問退貨運費誰出？謝謝") == faq_form_key("退货运费谁出")
    assert faq_form_key("HI, How long does SHIPPING take?? thanks!") == faq_form_key(
        "how long does shipping take"
    )
    assert faq_form_key("how long does express shipping take") != faq_form_key(
        "how long does shipping take"
    )
