"""Sentiment of a customer message, Chinese and English, tuned for customer service.

The engine hands a conversation to a human after repeated negative messages, so what
matters is anger, frustration and complaint (乱收费, 怎么还没, 一直没人, "still haven't",
"third time", ALL CAPS, ！！/？？), not the vocabulary of reviews. A plain question
(怎么退货, "how do I return this?") is neutral.

Lexicon-based and fast (one Aho-Corasick pass, ~10 µs a message): the lexicons are plain text
in ``kefu/nlu/data/sentiment_{zh,en}.txt``, one weighted term per line, with negators
(不满意 is negative, "not bad" is positive), intensifiers (非常, 太, very, so) and contrasts
(但是, but: what follows counts more). vaderSentiment was considered for English: its lexicon
is tuned for social media, not for "still haven't" or "third time", and its pure-Python
scoring costs more per message than this whole module; the CS terms would have to be layered
on top anyway, so one small lexicon per language is simpler to reason about and to tune.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import ahocorasick

__all__ = ["Sentiment", "analyze_sentiment"]

Label = Literal["negative", "neutral", "positive"]
_NEGATION = -0.75  # a negated term flips and weakens: "not bad" is mildly good
_CONTRAST_BEFORE, _CONTRAST_AFTER = 0.5, 1.5
_IN_QUESTION = 0.3
_ALPHA = 4.0  # score = total / sqrt(total² + α): one strong cue (±2) gives about ±0.7
_THRESHOLD = 0.3
_CLAUSE_BREAKS = frozenset(",.;!?，。；！？、\n")
_REPEATED_BANG = re.compile(r"[!！]{2,}")
_REPEATED_QUESTION = re.compile(r"[?？]{2,}|[!！][?？]|[?？][!！]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

# Folded form the lexicon is matched against: ASCII lower case, full-width ASCII to
# half-width, curly apostrophes straight; one character for one, so offsets carry over.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD.update({code: code + 32 for code in range(ord("A"), ord("Z") + 1)})
_FOLD.update({code + 0xFEE0: code + 32 for code in range(ord("A"), ord("Z") + 1)})
_FOLD.update({0x3000: 0x20, 0x2019: 0x27, 0x2018: 0x27})


@dataclass(frozen=True, slots=True)
class Sentiment:
    """How a message feels: a label, a score in -1…1 and the phrases that decided it."""

    label: Label
    score: float
    cues: tuple[str, ...]


_Kind = Literal["polar", "neg", "int", "but"]


@dataclass(frozen=True, slots=True)
class _Term:
    kind: _Kind
    weight: float  # polarity, or the multiplier of an intensifier
    length: int
    latin_start: bool  # begins / ends with an ASCII letter or digit: must match whole words
    latin_end: bool


def _parse(lines: Iterable[str]) -> dict[str, _Term]:
    terms: dict[str, _Term] = {}
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        term, _, weight = line.rstrip("\n").partition("\t")
        term = term.strip().translate(_FOLD)
        weight = weight.strip()
        kind: _Kind = "polar"
        if weight == "neg":
            kind, weight = "neg", "0"
        elif weight == "but":
            kind, weight = "but", "0"
        elif weight.startswith("x"):
            kind, weight = "int", weight[1:]
        terms[term] = _Term(
            kind,
            float(weight),
            len(term),
            term[0].isascii() and term[0].isalnum(),
            term[-1].isascii() and term[-1].isalnum(),
        )
    return terms


@cache
def _automaton(languages: tuple[str, ...]) -> Any:
    """One Aho-Corasick automaton over the lexicons of ``languages``, built once."""
    automaton = ahocorasick.Automaton()
    for language in languages:
        data = resources.files("kefu.nlu").joinpath("data", f"sentiment_{language}.txt")
        for term, entry in _parse(data.read_text(encoding="utf-8").splitlines()).items():
            automaton.add_word(term, (term, entry))
    automaton.make_automaton()
    return automaton


def _is_word_char(folded: str, index: int) -> bool:
    return 0 <= index < len(folded) and folded[index].isascii() and folded[index].isalnum()


def _hits(folded: str, automaton: Any) -> list[tuple[int, int, _Term]]:
    """Lexicon hits, leftmost-longest and non-overlapping; Latin terms only as whole words."""
    found = []
    for last, (_, term) in automaton.iter(folded):
        start, end = last - term.length + 1, last + 1
        if term.latin_start and _is_word_char(folded, start - 1):
            continue
        if term.latin_end and _is_word_char(folded, end):
            continue
        found.append((start, end, term))
    found.sort(key=lambda hit: (hit[0], -hit[1]))
    hits: list[tuple[int, int, _Term]] = []
    for hit in found:
        if not hits or hit[0] >= hits[-1][1]:
            hits.append(hit)
    return hits


def _near(folded: str, end: int, start: int) -> bool:
    """Whether a modifier ending at ``end`` reaches a term starting at ``start``: at most two
    words or two Chinese characters between them, and no clause break."""
    gap = folded[end:start]
    if not gap.strip():
        return True
    if any(ch in _CLAUSE_BREAKS for ch in gap):
        return False
    return len(gap.split()) <= 2 and sum(ch >= "\u2e80" for ch in gap) <= 2


def _asks(folded: str, end: int) -> bool:
    """Whether the clause that goes on from ``end`` is a question."""
    rest = folded[end:]
    stop = next((i for i, ch in enumerate(rest) if ch in _CLAUSE_BREAKS), len(rest))
    return rest[: stop + 1].rstrip(" .。!~").endswith(("?", "吗"))


def _shouting(text: str) -> bool:
    """Mostly upper-case Latin text of two or more words ("WHERE IS MY REFUND")."""
    words = _LATIN_WORD.findall(text)
    if len(words) < 2:
        return False
    letters = sum(map(len, words))
    upper = sum(len(word) for word in words if word.isupper())
    return letters >= 8 and upper >= 0.8 * letters


def analyze_sentiment(text: str, language: Literal["zh", "en"] | None = None) -> Sentiment:
    """The sentiment of one customer message.

    ``language`` restricts the lexicon to one language; None (the default) reads both, as
    messages mix them ("订单到了 thanks").
    """
    folded = text.translate(_FOLD)
    automaton = _automaton(("zh", "en") if language is None else (language,))
    contributions: list[tuple[float, int, int]] = []  # (weight, cue start, cue end)
    negator: tuple[int, int] | None = None
    intensifier: tuple[int, int, float] | None = None
    contrast: int | None = None
    for start, end, term in _hits(folded, automaton):
        if term.kind == "neg":
            negator = (start, end)
            continue
        if term.kind == "int":
            intensifier = (start, end, term.weight)
            continue
        if term.kind == "but":
            contrast, negator, intensifier = start, None, None
            continue
        weight, cue_start = term.weight, start
        if intensifier and _near(folded, intensifier[1], start):
            weight *= intensifier[2]
            cue_start = intensifier[0]
        if negator and _near(folded, negator[1], cue_start):
            weight *= _NEGATION
            cue_start = negator[0]
        negator = intensifier = None
        if weight > 0 and _asks(folded, end):
            weight *= _IN_QUESTION  # 好用吗 / "is it good?" asks, it does not praise
        if weight:
            contributions.append((weight, cue_start, end))
    total = 0.0
    cues: list[tuple[float, str]] = []
    for weight, start, end in contributions:
        if contrast is not None:
            weight *= _CONTRAST_BEFORE if start < contrast else _CONTRAST_AFTER
        total += weight
        cues.append((weight, text[start:end]))
    total = _punctuation(text, total, cues)
    score = total / math.sqrt(total * total + _ALPHA)
    label: Label = (
        "negative" if score <= -_THRESHOLD else "positive" if score >= _THRESHOLD else "neutral"
    )
    sign = {"negative": -1, "positive": 1, "neutral": 0}[label]
    decided = tuple(cue for weight, cue in cues if sign == 0 or weight * sign > 0)
    return Sentiment(label, round(score, 4), decided)


def _punctuation(text: str, total: float, cues: list[tuple[float, str]]) -> float:
    """Repeated ！！ sharpens what the words say (or reads as anger alone); ？？ and ALL CAPS
    read as exasperation."""
    if question := _REPEATED_QUESTION.search(text):
        total -= 1.5
        cues.append((-1.5, question.group()))
    if bang := _REPEATED_BANG.search(text):
        if total > 0:
            total *= 1.2
            cues.append((1.0, bang.group()))
        else:
            total = total * 1.3 - 0.8
            cues.append((-1.0, bang.group()))
    if _shouting(text):
        if total > 0:
            total *= 1.3
            cues.append((1.0, "ALL CAPS"))
        else:
            total = total * 1.5 - 1.0
            cues.append((-1.0, "ALL CAPS"))
    return total
