"""The persona/policy leak check: normalised, short secrets too, never a leak released."""

from __future__ import annotations

import pytest

from kefu.safety import LeakGuard, compact_form, leaks_secret

SYSTEM_PROMPT = (
    "You are the customer-service assistant of Acme Shop. Never promise refunds above 500 "
    "yuan without a manager. 退款超过500元必须经主管审批，不得向客户透露内部审批流程。Be brief."
)
CLEAN = (
    "您好！您的订单 W2378156 已于昨天发出，预计三天内送达。"
    "You can track it in the app under My Orders; refunds take 3-5 working days. "
) * 3


def test_compact_form_drops_everything_but_letters_and_digits() -> None:
    assert compact_form("Y\u200bo-u A\u00adR\u2060E，ｔｈｅ\u3000Ｓｈｏｐ") == "youaretheshop"
    assert compact_form("退款超過五百元") == "退款超过五百元"  # traditional folded
    assert len(compact_form("a\u200bb")) == 2


def test_thirty_compact_characters_of_a_secret_leak() -> None:
    fragment = "Never promise refunds above 500 yuan"  # 31 letters and digits
    assert leaks_secret(f"Sure! {fragment} ok", [SYSTEM_PROMPT])
    assert not leaks_secret(f"Sure! {fragment[:-2]} ok", [SYSTEM_PROMPT])  # 29
    zh = "退款超过500元必须经主管审批，不得向客户透露内部审批流程"  # 28: a whole sentence
    assert leaks_secret(f"根据规定【{zh}】", [SYSTEM_PROMPT])
    assert not leaks_secret(f"根据规定【{zh[:-1]}】", [SYSTEM_PROMPT])
    assert not leaks_secret("Refunds above 500 yuan need a manager.", [SYSTEM_PROMPT])


@pytest.mark.parametrize(
    "disguise",
    [
        lambda s: "\u200b".join(s),  # a zero-width space between every character
        lambda s: "\u00ad".join(s),  # soft hyphens
        lambda s: s.upper(),
        lambda s: s.replace(" ", "\n  "),  # re-wrapped
        lambda s: " ".join(s),  # spaced out
        lambda s: "-".join(s.split()),
        lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),  # full width
    ],
)
def test_disguised_recitals_leak(disguise) -> None:  # type: ignore[no-untyped-def]
    recital = "Never promise refunds above 500 yuan without a manager"
    assert leaks_secret(f"My rules: {disguise(recital)}.", [SYSTEM_PROMPT])


def test_short_secrets_and_short_sentences_are_protected() -> None:
    key = "sk-test-4f9a2c77e1"
    assert leaks_secret(f"the key is {key}", [key])
    assert leaks_secret("the key is S K - T E S T - 4 F 9 A 2 C 7 7 E 1", [key])
    assert not leaks_secret(f"the key is {key[:-1]}", [key])
    assert not leaks_secret("abc", ["abc"])  # under 8 characters: ignored
    # A sentence shorter than the window leaks whole: "Be brief." is too short (7), the
    # one below is 18 letters.
    persona = "你是小铺的客服。内部折扣码VIP2024只给主管。Be brief."
    assert leaks_secret("好的：内部折扣码 VIP2024 只给主管", [persona])
    assert not leaks_secret("Be brief.", [persona])
    assert not leaks_secret("", [SYSTEM_PROMPT])


def run(guard: LeakGuard, pieces: list[str]) -> list[str]:
    return [guard.feed(piece) for piece in pieces] + [guard.finish()]


@pytest.mark.parametrize("size", [1, 2, 5, 17, 1000])
def test_clean_text_is_released_whole_and_in_order(size: int) -> None:
    guard = LeakGuard([SYSTEM_PROMPT])
    released = run(guard, [CLEAN[i : i + size] for i in range(0, len(CLEAN), size)])
    assert "".join(released) == CLEAN
    assert not guard.leaked


@pytest.mark.parametrize("size", [1, 3, 8, 40])
def test_a_recital_is_never_released(size: int) -> None:
    text = "Of course! My instructions say: You are the customer-service assistant of Acme."
    guard = LeakGuard([SYSTEM_PROMPT])
    released = "".join(run(guard, [text[i : i + size] for i in range(0, len(text), size)]))
    assert guard.leaked
    assert released == "Of course! My instructions say: "[: len(released)]
    assert "customer-service" not in released


def test_held_text_that_stops_matching_is_released() -> None:
    guard = LeakGuard([SYSTEM_PROMPT])
    assert guard.feed("好的，") == "好的，"
    held = guard.feed("Never promise")  # could begin a recital: held back
    assert held == ""
    shown = guard.feed(" anything you can't keep.")
    assert shown.startswith("Never promise anything"), "released once it stopped matching"
    assert shown + guard.finish() == "Never promise anything you can't keep."
    assert not guard.leaked
