"""Streaming check: a word split across pieces is caught; clean text comes out whole."""

from __future__ import annotations

import pytest

from kefu.safety import SensitiveWords, StreamGuard, WordHit

CLEAN = (
    "您好！您的订单 W2378156 已于昨天发出，预计三天内送达。"
    "You can track it in the app under My Orders; the class of service is standard. "
) * 4


@pytest.fixture(scope="module")
def words() -> SensitiveWords:
    return SensitiveWords.from_lists(["ass\tinsult"])


def run(guard: StreamGuard, pieces: list[str]) -> list[str]:
    return [guard.feed(piece) for piece in pieces] + [guard.finish()]


def test_word_split_across_pieces_is_caught(words: SensitiveWords) -> None:
    guard = StreamGuard(words)
    released = run(guard, ["好的，你这个傻", "逼，我们", "马上处理"])
    assert "".join(released) == "好的，你这个"
    assert guard.hit == WordHit("傻逼", 6, 8, "insult")


def test_spelled_out_word_fed_one_character_at_a_time(words: SensitiveWords) -> None:
    text = "Sure, I can help. " * 3 + "f.u.c.k that, here is more text"
    guard = StreamGuard(words)
    released = "".join(run(guard, list(text)))
    start = text.index("f.u.c.k")
    assert guard.hit == WordHit("fuck", start, start + 7, "profanity")
    assert released == text[:start]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 1000])
def test_clean_text_is_released_whole_and_in_order(words: SensitiveWords, size: int) -> None:
    guard = StreamGuard(words)
    pieces = [CLEAN[i : i + size] for i in range(0, len(CLEAN), size)]
    released = run(guard, pieces)
    assert "".join(released) == CLEAN  # "class" never trips the word "ass"
    assert guard.hit is None


def test_a_tail_is_held_back_until_finish(words: SensitiveWords) -> None:
    guard = StreamGuard(words)
    first = guard.feed("a" * 100)
    assert first == "a" * (100 - words.longest)  # one matching character per "a"
    assert guard.finish() == "a" * words.longest


def test_nothing_after_a_hit(words: SensitiveWords) -> None:
    guard = StreamGuard(words)
    assert "".join(run(guard, ["傻逼"])) == ""
    assert guard.hit is not None
    assert guard.feed("more text") == ""
    assert guard.finish() == ""


def test_boundary_known_only_from_the_next_piece(words: SensitiveWords) -> None:
    guard = StreamGuard(words)
    assert "".join(run(guard, ["I cl", "ass", "ify this"])) == "I classify this"
    guard = StreamGuard(words)
    assert "".join(run(guard, ["you ", "ass", "ert this"])) == "you assert this"
    assert guard.hit is None
    guard = StreamGuard(words)
    released = "".join(run(guard, ["you ", "ass", "!"]))
    assert (released, guard.hit) == ("you ", WordHit("ass", 4, 7, "insult"))


def test_no_words_releases_everything_at_once() -> None:
    guard = StreamGuard(SensitiveWords.from_lists(include_default=False))
    assert guard.feed("傻逼 text") == "傻逼 text"
    assert guard.finish() == ""
