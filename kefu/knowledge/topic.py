"""Whether a passage is about the question: the check a passage answer must pass besides its
relevance. It lives with the knowledge (not the engine) because the passage calibration
(``passage_calibration.py``) replays the engine's passage decision at index build."""

from __future__ import annotations

from kefu.core.types import Chunk, ChunkHit
from kefu.knowledge.tokenizer import (
    QUESTION_TOKENS,
    informativeness,
    tokenize,
    tokenize_question,
)

__all__ = [
    "SHARED_TOPIC_WORDS",
    "TOPIC_WORD",
    "chunk_words",
    "on_topic",
    "shares_topic",
    "topic_words",
]

TOPIC_WORD = 0.5  # informativeness of a word that names the question's topic
SHARED_TOPIC_WORDS = 2  # a quoted passage shares this many of them (or all, if fewer)


def topic_words(text: str) -> set[str]:
    """The words of ``text`` that name what it is about (not 的, 怎么, what, like…)."""
    return {
        word
        for word in tokenize_question(text)
        if word not in QUESTION_TOKENS and informativeness(word) >= TOPIC_WORD
    }


def on_topic(question_words: set[str], hit: ChunkHit) -> bool:
    """Whether a passage is about the question: it shares two of the question's topic
    words (all of them, if it has fewer). Meaning alone can rank a passage high for a
    question it does not answer ("what's the weather like today" → the shipping policy);
    a quote must say something about what was asked."""
    return shares_topic(question_words, chunk_words(hit.chunk))


def chunk_words(chunk: Chunk) -> set[str]:
    """The words of a chunk's heading and text (what :func:`on_topic` compares)."""
    return set(tokenize(f"{chunk.heading} {chunk.content}"))


def shares_topic(question_words: set[str], words: set[str]) -> bool:
    """:func:`on_topic` on a chunk's words already tokenized (the passage calibration asks
    of the same chunks hundreds of times)."""
    if not question_words:
        return False
    shared = question_words & words
    return len(shared) >= min(SHARED_TOPIC_WORDS, len(question_words))
