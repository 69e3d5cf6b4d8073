from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from kefu.knowledge import detect_language, tokenize
from kefu.knowledge.tokenizer import informativeness


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("订单多久发货？", ["订单", "多久", "发货"]),
        # jieba's general dictionary cuts this as 退 / 货运费; the domain edits fix it.
        ("退货运费谁承担", ["退货", "运费", "承担"]),
        # Compounds also yield their dictionary sub-words, so "优惠" finds "优惠券".
        ("优惠券怎么使用", ["优惠", "优惠券", "使用"]),
        ("iPhone15 怎么退货", ["iphone15", "退货"]),
    ],
)
def test_chinese_is_segmented_without_stopwords(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


@pytest.mark.parametrize("text", ["几天发货啊", "什么时候发货", "多长时间发货", "多久发货呢"])
def test_chinese_time_questions_fold_into_one_token(text: str) -> None:
    assert tokenize(text) == ["多久", "发货"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("How long does shipping take?", ["when", "ship"]),
        ("How soon will it ship", ["when", "ship"]),
        ("Returns, returned, returning", ["return", "return", "return"]),
        ("deliveries addresses", ["delivery", "address"]),
        ("I'm sure it's the customer’s order", ["sur", "customer", "order"]),
        ("Don't know", ["know"]),
    ],
)
def test_english_words_are_stemmed_without_stopwords(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_full_width_text_tokenizes_like_half_width() -> None:
    assert tokenize("ＨＯＷ ＬＯＮＧ ＤＯＥＳ ＳＨＩＰＰＩＮＧ ＴＡＫＥ？") == ["when", "ship"]
    assert tokenize("满９９元包邮") == tokenize("满99元包邮")


@pytest.mark.parametrize("text", ["", "   ", "？！。,.;", "你是谁", "is it the"])
def test_text_with_nothing_to_match_gives_no_tokens(text: str) -> None:
    assert tokenize(text) == []


def test_other_scripts_stay_whole_words() -> None:
    assert tokenize("café crème") == ["café", "crème"]


@pytest.mark.parametrize(
    ("text", "language"),
    [("hello", "en"), ("", "en"), ("你好 hello", "zh"), ("订单 123", "zh"), ("ＡＢＣ", "en")],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_tokenize_is_thread_safe() -> None:
    texts = ["退货运费谁承担", "How long does shipping take?", "如何修改收货地址"] * 50
    expected = [tokenize(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(tokenize, texts)) == expected


def test_first_use_is_quiet() -> None:
    """jieba logs "Building prefix dict ..." to stderr unless silenced."""
    code = "from kefu.knowledge import tokenize; print(tokenize('退货运费'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['退货', '运费']"
    assert result.stderr == ""


def test_unknown_character_runs_are_not_glued_into_words() -> None:
    # jieba's HMM would invent "完款"; single characters can still match "付款" in an FAQ.
    assert tokenize("付完款要几天才发货") == ["付", "完", "款", "多久", "才", "发货"]


def test_informativeness_ranks_topic_words_above_common_ones() -> None:
    assert informativeness("发货") == informativeness("运费") == informativeness("refund") == 1.0
    assert informativeness("一般") < informativeness("今天") < 1.0  # common in any text
    assert informativeness("的") < 0.1
    assert informativeness("80") == 0.5
    assert informativeness("扣") < informativeness("扣款")  # a lone ideograph says less
