"""Qwen3's <think> blocks never reach the customer, however the stream is cut."""

from __future__ import annotations

import pytest

from kefu.llm.profiles import QWEN3, ThinkStripper, profile_for, strip_think

ANSWER = "退货运费 12 元 [1]。<b>not a tag</b> a<thinking"
STREAM = "<think>\n顾客问运费，资料[1]说 12 元。</think>\n\n" + ANSWER


def test_every_split_of_the_stream_is_stripped() -> None:
    for first in range(len(STREAM) + 1):
        for second in range(first, len(STREAM) + 1):
            stripper = ThinkStripper()
            shown = (
                stripper.feed(STREAM[:first])
                + stripper.feed(STREAM[first:second])
                + stripper.feed(STREAM[second:])
                + stripper.finish()
            )
            assert shown.lstrip() == ANSWER, (first, second)


def test_character_by_character() -> None:
    stripper = ThinkStripper()
    shown = "".join(stripper.feed(ch) for ch in STREAM) + stripper.finish()
    assert shown.lstrip() == ANSWER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>only thinking, cut off", ""),
        ("no thinking at all", "no thinking at all"),
        ("<think></think>答：好", "答：好"),
        ("a<think>x</think>b<think>y</think>c", "abc"),
    ],
)
def test_strip_think(text: str, expected: str) -> None:
    assert strip_think(text) == expected


def test_qwen3_profile_switches_thinking() -> None:
    assert profile_for("Qwen/Qwen3-8B") is QWEN3
    assert profile_for("qwen3:4b", "auto").request_extras(False) == {
        "chat_template_kwargs": {"enable_thinking": False}
    }
    assert profile_for("gpt-4o-mini").request_extras(False) == {}
    assert profile_for("my-model", "qwen3") is QWEN3
