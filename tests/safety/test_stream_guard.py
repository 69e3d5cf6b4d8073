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
    assert "".join(released) == "好的，你这个傻", "its beginning was shown, never the word"
    assert guard.hit == WordHit("傻逼", 6, 8, "insult")


def test_spelled_out_word_fed_one_character_at_a_time(words: SensitiveWords) -> None:
    text = "Sure, I can help. " * 3 + "f.u.c.k that, here is more text"
    guard = StreamGuard(words)
    released = "".join(run(guard, list(text)))
    start = text.index("f.u.c.k")
    assert guard.hit == WordHit("fuck", start, start + 7, "profanity")
    # English flows without waiting, so the beginning was shown; never the whole word.
    assert released == text[: start + 6]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 1000])
def test_clean_text_is_released_whole_and_in_order(words: SensitiveWords, size: int) -> None:
    guard = StreamGuard(words)
    pieces = [CLEAN[i : i + size] for i in range(0, len(CLEAN), size)]
    released = run(guard, pieces)
    assert "".join(released) == CLEAN  # "class" never trips the word "ass"
    assert guard.hit is None


def test_clean_text_flows_and_the_completing_piece_is_withheld(words: SensitiveWords) -> None:
    guard = StreamGuard(words)
    clean = "您的退款将在三个工作日内到账。"
    assert guard.feed(clean) == clean, "ordinary text flows at once (time to first token)"
    assert guard.feed("另外，刷") == "另外，刷", "nothing is held back for a CJK beginning"
    assert guard.feed("新一下页面") == "新一下页面"
    assert guard.feed("刷单") == "刷单"
    assert guard.feed("返利，日赚") == "", "the piece completing a word is withheld"
    assert guard.hit is not None and guard.hit.word == "刷单返利"


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


def test_latin_words_settle_at_the_next_character() -> None:
    words = SensitiveWords.from_lists(["ass"], include_default=False)
    guard = StreamGuard(words)
    assert guard.feed("I can ass") == "I can "
    assert guard.feed("ist you") == "assist you" and guard.hit is None
    guard = StreamGuard(words)
    assert guard.feed("I can ass") == "I can "
    assert guard.feed(" you") == "" and guard.hit is not None


def test_a_word_completed_after_its_start_was_shown_is_still_a_hit() -> None:
    words = SensitiveWords.from_lists(["idiot"], include_default=False)
    guard = StreamGuard(words)
    assert guard.feed("You idi") == "You idi", "English flows on without waiting"
    assert guard.feed("ot!") == ""
    assert guard.hit is not None and guard.hit.word == "idiot"


@pytest.mark.parametrize(
    "disguised",
    [
        "刷\u200b单\u200b返\u200b利",
        "刷\u00ad单\u2060返\ufeff利",
        "刷 单-返.利",
        "ＦＵＣＫ",
        "F\u200bU\u200bC\u200bK",
    ],
)
def test_disguised_words_are_caught_streaming(words: SensitiveWords, disguised: str) -> None:
    """Zero-width characters, separators, case and width are folded before matching."""
    guard = StreamGuard(words)
    text = f"好的，{disguised} 后面的话。"
    released = "".join(run(guard, list(text)))
    assert guard.hit is not None
    start = text.index(disguised)
    assert released == text[: start + len(disguised) - 1][: len(released)]
    assert len(released) < start + len(disguised), "the word was never shown whole"
