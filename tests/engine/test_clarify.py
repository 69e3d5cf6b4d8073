"""When two FAQ answers fit a question almost equally, the bot asks which one is meant
instead of guessing, and the customer's pick ("1", "第二个", "the first one") is answered."""

from __future__ import annotations

import httpx
import pytest

from kefu.core.types import FaqEntry, FaqHit
from kefu.engine.retrieval import close_rivals
from kefu.nlu.dialog_acts import picked_option
from tests.turns import chat as ask


def hit(entry_id: str, relevance: float, answer: str | None = None) -> FaqHit:
    entry = FaqEntry(entry_id, f"question {entry_id}?", answer or f"answer {entry_id}")
    return FaqHit(entry, score=relevance, relevance=relevance, matched=entry.question)


def test_close_rivals_are_near_ties_above_the_threshold_with_other_answers() -> None:
    hits = [hit("a", 0.73), hit("b", 0.72), hit("c", 0.70), hit("d", 0.60)]
    assert [h.entry.id for h in close_rivals(hits, 0.55, 0.05)] == ["b", "c"]
    assert close_rivals(hits, 0.55, 0.0) == []  # margin 0: never ask
    assert close_rivals([hit("a", 0.9), hit("b", 0.8)], 0.55, 0.05) == []  # a clear winner
    assert close_rivals([hit("a", 0.92), hit("b", 0.9)], 0.55, 0.05) == []  # near-verbatim
    assert close_rivals([hit("a", 0.6), hit("b", 0.58)], 0.59, 0.05) == []  # b too weak
    same = [hit("a", 0.8, "same"), hit("b", 0.79, "same")]  # another language's copy
    assert close_rivals(same, 0.55, 0.05) == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("1", 0), ("２", 1), ("第二个", 1), ("选1", 0), ("我选2", 1), ("前一个", 0), ("后者", 1),
     ("the first one", 0), ("second", 1), ("#2", 1), ("3", None), ("你好", None),
     ("积分怎么用？", 1)],
)  # fmt: skip
def test_picking_an_option(reply: str, expected: int | None) -> None:
    assert picked_option(reply, ["积分怎么获得？", "积分怎么用？"]) == expected


def options(answer: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in answer.splitlines()[1:]]


async def test_the_customer_picks_and_gets_that_answer(
    client: httpx.AsyncClient, user: str
) -> None:
    asked = await ask(client, user, "积分咋攒")
    assert asked["answer"].startswith("您想问的是下面哪一个？")
    choices = options(asked["answer"])
    assert len(choices) >= 2 and "积分怎么获得？" in choices
    sources = asked["metadata"]["retriever_resources"]
    assert len(sources) == len(choices)
    picked = await ask(
        client, user, str(choices.index("积分怎么获得？") + 1), asked["conversation_id"]
    )
    assert picked["answer"].startswith("每实付 1 元得 1 积分")

    # Once answered, a digit is just a digit again (no pending question).
    again = await ask(client, user, "1", asked["conversation_id"])
    assert not again["answer"].startswith("每实付 1 元得 1 积分")


async def test_another_question_instead_of_a_pick_is_answered_as_usual(
    client: httpx.AsyncClient, user: str
) -> None:
    asked = await ask(client, user, "积分咋攒")
    assert asked["answer"].startswith("您想问的是下面哪一个？")
    other = await ask(client, user, "退货要扣多少运费？", asked["conversation_id"])
    assert "运费" in other["answer"] and not other["answer"].startswith("您想问")


async def test_in_english_the_question_is_english(client: httpx.AsyncClient, user: str) -> None:
    asked = await ask(client, user, "how many days till it arrives")
    assert asked["answer"].startswith("Which of these do you mean?")
    choices = options(asked["answer"])
    picked = await ask(client, user, "the first one", asked["conversation_id"])
    assert picked["answer"] and not picked["answer"].startswith("Which of these")
    assert choices
