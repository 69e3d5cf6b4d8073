"""Sensitive words: exact spans in the original text, evasion, whole words, allow lists."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kefu.safety import SensitiveWords, WordHit, matching_form


@pytest.fixture(scope="module")
def default() -> SensitiveWords:
    return SensitiveWords.from_lists()


def spans(words: SensitiveWords, text: str) -> list[tuple[str, int, int]]:
    return [(hit.word, hit.start, hit.end) for hit in words.find(text)]


def test_default_list_loads_with_categories(default: SensitiveWords) -> None:
    assert len(default) > 50
    assert default.find("你这个傻逼") == [WordHit("傻逼", 3, 5, "insult")]
    assert default.find("刷单返利，日赚300") == [WordHit("刷单返利", 0, 4, "scam")]
    assert default.find("This is bullshit.") == [WordHit("bullshit", 8, 16, "profanity")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你这个傻*逼", [("傻逼", 3, 6)]),  # separator inside the word
        ("你真是个傻😊逼", [("傻逼", 4, 7)]),  # an emoji as separator
        ("加 我 微 信 聊", [("加我微信", 0, 7)]),  # spaces between CJK characters
        ("賤人", [("贱人", 0, 2)]),  # traditional characters
        ("ＦＵＣＫ off", [("fuck", 0, 4)]),  # full-width, upper case
        ("f.u.c.k you", [("fuck", 0, 7)]),
        ("F U C K", [("fuck", 0, 7)]),  # spelled out with spaces
        ("you are a f u c k i n g idiot", [("fucking", 10, 23), ("idiot", 24, 29)]),
        ("I f.u.c.k", [("fuck", 2, 9)]),
        ("what.the.fuck", [("fuck", 9, 13)]),
        ("傻B一个", [("傻b", 0, 2)]),  # mixed CJK and Latin
        ("加我vx123456", [("加我vx", 0, 4)]),  # digits do not extend a Latin word
        ("you motherfucker!", [("motherfucker", 4, 16)]),  # leftmost-longest, no "fucker"
        ("kill yourself", [("kill yourself", 0, 13)]),
        ("he is a piece  of shit", [("piece of shit", 8, 22)]),
        ("傻逼，滚蛋", [("傻逼", 0, 2), ("滚蛋", 3, 5)]),
    ],
)
def test_hits_map_back_to_the_original_text(
    default: SensitiveWords, text: str, expected: list[tuple[str, int, int]]
) -> None:
    assert spans(default, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Please check the class schedule",  # "ass" inside a word (custom list below)
        "I will assert that",
        "this hit the spot",  # "s hit" is not "shit"
        "Scunthorpe is a town",  # "cunt" inside a word
        "flame retardant fabric",
        "shitty weather",  # not listed: whole words only
        "kill your self",  # spaces split a multi-letter word
        "fu ck",
        "我不傻。逼我也没用",  # sentence punctuation ends a phrase
        "我不傻\n逼我也没用",
        "c l a s s",  # a spelled-out longer word
        "p.a.s.s",
        "您好，请问我的订单什么时候发货？",
    ],
)
def test_no_hit_inside_other_words_or_across_sentences(text: str) -> None:
    words = SensitiveWords.from_lists(["ass"])
    assert words.find(text) == []
    assert not words.contains(text)


def test_mask_replaces_each_matched_character(default: SensitiveWords) -> None:
    assert default.mask("你这个傻*逼，f.u.c.k you") == "你这个***，******* you"
    assert default.mask("賤人!", char="█") == "██!"
    assert default.mask("一切正常") == "一切正常"
    assert default.mask("傻傻逼逼") == "****", "what masking leaves cannot form a word again"


def test_expanding_normalisation_keeps_positions() -> None:
    words = SensitiveWords.from_lists(["fine"], include_default=False)
    assert spans(words, "a \ufb01ne day") == [("fine", 2, 5)]  # "ﬁ" is one character


def test_app_words_categories_and_allow_list() -> None:
    words = SensitiveWords.from_lists(
        ["代购\tcompetitor", "傻逼\tcustom"], include_default=True, allow=["正规代购", "滚蛋"]
    )
    assert words.find("找代购") == [WordHit("代购", 1, 3, "competitor")]
    assert words.find("我们是正规代购") == []  # inside an allowed phrase
    assert words.find("滚蛋") == []  # allowing a listed word removes it
    assert words.find("傻逼") == [WordHit("傻逼", 0, 2, "custom")]  # the app's category wins
    assert words.find("代 购") == [WordHit("代购", 0, 3, "competitor")]


def test_empty_lists() -> None:
    words = SensitiveWords.from_lists(["", "  ", "***"], include_default=False)
    assert len(words) == 0
    assert words.longest == 0
    assert words.find("傻逼 fuck") == []
    assert words.mask("text") == "text"


def test_longest_is_in_matching_characters(default: SensitiveWords) -> None:
    words = SensitiveWords.from_lists(["加 我 微 信", "ab"], include_default=False)
    assert words.longest == 4
    assert default.longest >= len(matching_form("transfer to a safe account"))


_ALPHABET = st.sampled_from(list("傻逼加我微信賤人fuckasFUCK .*-_。\n好的abc"))


@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_every_hit_is_a_listed_word_in_matching_form(text: str) -> None:
    words = SensitiveWords.from_lists(["傻逼", "加我微信", "贱人", "fuck"], include_default=False)
    hits = words.find(text)
    for hit in hits:
        assert matching_form(text[hit.start : hit.end]) == matching_form(hit.word)
    assert all(a.end <= b.start for a, b in pairwise(hits))
    masked = words.mask(text)
    assert len(masked) == len(text)
    assert words.find(masked) == []
