"""A passage quoted as the answer must be about what was asked: meaning alone ranks a
policy passage high for questions it does not answer."""

from __future__ import annotations

import httpx
import pytest

from kefu.core.types import Chunk, ChunkHit
from kefu.engine.retrieval import on_topic, topic_words


def hit(content: str, heading: str = "") -> ChunkHit:
    return ChunkHit(Chunk("c1", "d1", "policy", 0, content, heading), score=1.0, relevance=0.9)


def test_topic_words_leave_out_question_words() -> None:
    assert topic_words("what's the weather like today") >= {"weather"}
    assert not topic_words("what is it like") & {"what", "is", "it", "like"}


@pytest.mark.parametrize(
    ("question", "passage", "expected"),
    [
        ("what's the weather like today", "Orders paid before 16:00 ship today.", False),
        ("你喜欢什么颜色", "换颜色、换尺码请在 15 天内申请。", False),
        ("退货运费谁承担", "七天无理由退货的运费由买家承担。", True),
        ("how long does a refund take", "Refunds take 1-5 working days.", True),
        ("什么", "任何内容", False),  # no topic word at all: nothing to quote for it
    ],
)
def test_a_passage_shares_the_questions_topic_words(
    question: str, passage: str, expected: bool
) -> None:
    assert on_topic(topic_words(question), hit(passage)) is expected


@pytest.mark.parametrize(
    "question", ["what's the weather like today", "what's the meaning of life", "你喜欢什么颜色"]
)
async def test_off_topic_questions_get_the_fallback_not_a_policy(
    client: httpx.AsyncClient, user: str, question: str
) -> None:
    response = await client.post(
        "/v1/chat-messages",
        json={"query": question, "user": user, "response_mode": "blocking", "inputs": {}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["retriever_resources"] == []
