"""The sentences of a passage that answer a question: an extractive answer quotes these,
not the whole chunk.

Each sentence is scored by the question's words it contains, weighted by how much a word
says (:func:`~kefu.knowledge.tokenizer.informativeness`: topic words count, 的/怎么 barely).
The best sentence and those nearly as good are quoted in their original order, up to a
length a customer reads at a glance; a sentence that only continues its predecessor
("退回的运费 12 元从退款中扣除。" after the rule it belongs to) comes with it when room is left.
Written here because it is a few lines over kefu's own tokenizer and sentence splitter; a
general summariser would not know which words of a customer's question matter.
"""

from __future__ import annotations

import re

from kefu.knowledge.tokenizer import informativeness, tokenize

__all__ = ["QUOTE_CHARS", "quote"]

QUOTE_CHARS = 240  # about two or three sentences: what a customer reads at a glance
NEARLY_AS_GOOD = 0.5  # a sentence scoring this share of the best one is quoted too
MAX_SENTENCES = 3
# Whole sentences: a "；" joins the halves of one rule, so it does not end a sentence here.
_SENTENCE = re.compile(r".+?(?:[。！？!?]+[”」』）)]*|\.(?=\s)|\n|$)\s*", re.S)


def split_sentences(text: str) -> list[str]:
    return [match.group(0) for match in _SENTENCE.finditer(text) if match.group(0).strip()]


def quote(question: str, text: str, *, max_chars: int = QUOTE_CHARS) -> str:
    """The sentences of ``text`` that answer ``question``, in order; all of ``text`` when
    it is short, or when no sentence shares a word with the question."""
    if len(text) <= max_chars:
        return text.strip()
    sentences = [s for s in split_sentences(text) if s.strip()]
    wanted = {word: informativeness(word) for word in tokenize(question)}
    scores = [_score(sentence, wanted) for sentence in sentences]
    best = max(scores, default=0.0)
    if best <= 0:
        return _cut(text, max_chars)
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    used = 0
    for index in ranked[:MAX_SENTENCES]:
        if scores[index] < NEARLY_AS_GOOD * best and chosen:
            break
        size = len(sentences[index].strip())
        if chosen and used + size > max_chars:
            continue
        chosen.append(index)
        used += size
    chosen.sort()
    parts = [sentences[i].strip() for i in chosen]
    if used < max_chars // 2 and len(chosen) == 1 and chosen[0] + 1 < len(sentences):
        following = sentences[chosen[0] + 1].strip()  # the rule's consequence, often
        if used + len(following) <= max_chars:
            parts.append(following)
    return _join(parts)


def _score(sentence: str, wanted: dict[str, float]) -> float:
    words = set(tokenize(sentence))
    return sum(weight for word, weight in wanted.items() if word in words)


def _join(parts: list[str]) -> str:
    """Chinese sentences join without a space, English ones with one."""
    joined = parts[0]
    for part in parts[1:]:
        needs_space = joined[-1:].isascii() and part[:1].isascii()
        joined += (" " if needs_space else "") + part
    return joined


def _cut(text: str, max_chars: int) -> str:
    """The first sentences of ``text`` that fit (a passage found by meaning, not words)."""
    kept = ""
    for sentence in split_sentences(text)[:MAX_SENTENCES]:
        if kept and len(kept) + len(sentence) > max_chars:
            break
        kept += sentence
    return kept.strip()
