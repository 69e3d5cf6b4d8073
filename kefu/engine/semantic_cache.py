"""Semantic route cache: a near-duplicate of a recent question reuses its decision.

The exact cache (:mod:`kefu.engine.route_cache`) answers a question asked again word for
word; customers more often ask again in other words ("退货运费谁出" / "请问退货的运费谁出呢").
The turn embeds its question anyway (dense FAQ retrieval), so this cache compares that
vector with the vectors of recent questions — a bounded matrix, one dot product — and
above a cosine threshold (measured, ``bench/route_cache_semantic.py``) reuses the knowledge
decision (FAQ answer, clarifying question, passages or fallback) without scoring the FAQ
and the passages again.

It never crosses what could change the answer:

* a different bucket — language, the dialog state (a flow in progress, options offered),
  and the question's **particulars**: every entity the extractor found (order ids, phone
  numbers, amounts, dates) and every number written in digits or words ("3天" / "5天",
  "two coupons"). Two questions that differ only in an order id never share a decision;
* a stale decision: entries expire after ``ttl_s``, and the cache is replaced with the
  route cache whenever the app's knowledge, annotations or configuration change;
* decisions that depend on tools or user data: only the knowledge decision is cached
  (flows, tool calls and hand-over are decided after it, every turn), and degraded
  decisions (the embedder failed) are never stored.

Process-local on purpose: vectors are ~2 KB each and the hit must cost microseconds, so it
is not shared through Redis (the exact cache is).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

from kefu.engine.route_cache import RouteDecision
from kefu.knowledge.tokenizer import QUESTION_TOKENS, informativeness, tokenize_question

__all__ = ["SemanticHit", "SemanticRouteCache", "clear_cut", "content_words", "particulars"]

Vector = npt.NDArray[np.float32]

# Numbers in digits (ASCII or full width, after NFKC), with their separators: 3, 2.5, 12:30.
_DIGITS = re.compile(r"\d+(?:[.,:/-]\d+)*")
# Numbers in Chinese words when they count something ("三天", "两件", "五百块", "第二个").
_HANZI_NUMBER = re.compile(
    r"(?:第)?[零〇一二两三四五六七八九十百千万亿半]+\s*"
    r"(?:个月|小时|分钟|星期|公斤|天|日|号|周|月|年|块|元|毛|角|件|个|次|单|岁|斤|克|米|折|倍|份|张|双|条|台)"
)
_ENGLISH_NUMBER = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|half|first|second|third|"
    r"fourth|fifth|once|twice|dozen)\b",
    re.IGNORECASE,
)


# Courtesy carries no question: "你好，退货运费多少" and "退货运费多少，谢谢" ask the same.
_COURTESY = frozenset(
    "你好 您好 亲 亲亲 谢谢 多谢 麻烦 请问 问下 问一下 客服 在吗 在不在 急 hi hello hey thank "
    "thanks thx pls please sorry excuse".split()
)
_CONTENT_WORD = 0.5  # informativeness of a word that names what a question is about


def content_words(text: str) -> frozenset[str]:
    """The words that say what a question is about (tokenizer output: jieba words, English
    stems, synonyms folded), without question words and courtesy."""
    return frozenset(
        word
        for word in tokenize_question(text)
        if word not in QUESTION_TOKENS
        and word not in _COURTESY
        and informativeness(word) >= _CONTENT_WORD
    )


def clear_cut(
    decision: RouteDecision,
    *,
    faq_threshold: float,
    passage_threshold: float,
    clarify_margin: float,
    margin: float,
) -> bool:
    """Whether ``decision`` stands clear of every threshold it was decided by (by
    ``margin``): an FAQ answer well above the FAQ threshold and ahead of the runner-up, a
    passage or the fallback with every FAQ candidate well below it. A decision near a
    threshold flips with a word ("clarify" or answer), so a near-duplicate must not reuse it."""
    record = decision.record
    faq = [float(c["relevance"]) for c in record.get("faq_candidates", [])]
    passages = [float(c["relevance"]) for c in record.get("passage_candidates", [])]
    if decision.route == "annotation":
        return True
    if decision.route == "faq":
        best = faq[0] if faq else 0.0
        runner_up = faq[1] if len(faq) > 1 else 0.0
        return best >= faq_threshold + margin and best - runner_up >= clarify_margin + margin
    if decision.route not in ("passage", "fallback") or (faq and faq[0] > faq_threshold - margin):
        return False  # a clarifying question, or an FAQ answer nearly given
    best_passage = passages[0] if passages else 0.0
    if decision.route == "passage":
        return best_passage >= passage_threshold + margin
    return best_passage <= passage_threshold - margin


def particulars(text: str, entities: Iterable[tuple[str, str]] = ()) -> tuple[str, ...]:
    """What makes a question about one thing and not another: the entities found in it
    (``(type, text)`` pairs) and every number it names, in order of appearance.

    Questions with different particulars never share a cached decision."""
    folded = unicodedata.normalize("NFKC", text).lower()
    found = [f"{kind}={value}" for kind, value in entities]
    for pattern in (_DIGITS, _HANZI_NUMBER, _ENGLISH_NUMBER):
        found.extend(match.group(0) for match in pattern.finditer(folded))
    return tuple(found)


_CHECKED = 4  # without a word index (min_overlap 0): the most similar rows checked
_GATHER_SHARE = 4  # reusable rows beyond 1 / 4 of those filled: one product, then picked
_NO_ROWS: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class _Entry:
    bucket: Hashable
    question: str
    decision: RouteDecision
    words: frozenset[str]


@dataclass(frozen=True, slots=True)
class SemanticHit:
    """A cached decision reused for a near-duplicate: which question it was made for."""

    decision: RouteDecision
    question: str
    cosine: float


class SemanticRouteCache:
    """The last ``size`` questions' vectors and decisions, looked up by cosine.

    A ring buffer: one float32 matrix of unit vectors, the bucket of each row and when it
    was stored; :meth:`get` takes the best row of the same bucket that has not expired.
    Used on the event loop only (no lock). A lookup scores only the rows that could be
    reused (same bucket, not expired, enough content words shared: an index of the rows by
    word finds them), usually none or a few, instead of the whole matrix (2 MB by default,
    streamed through the CPU cache every turn); the most similar of them wins.
    """

    def __init__(
        self,
        *,
        size: int,
        threshold: float,
        ttl_s: float,
        min_overlap: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.threshold = threshold
        self.min_overlap = min_overlap
        self.ttl_s = ttl_s
        self._clock = clock
        self._vectors: Vector | None = None  # allocated on the first put (the dimension)
        self._buckets = np.zeros(size, dtype=np.int64)
        self._stored = np.full(size, -np.inf)  # when each row was stored (-inf: empty)
        self._entries: list[_Entry | None] = [None] * size
        self._next = 0
        self._filled = 0
        self._rows_with: dict[str, set[int]] = {}  # content word → the rows whose words hold it
        self._wordless: set[int] = set()  # the rows of questions without content words

    def __len__(self) -> int:
        return sum(entry is not None for entry in self._entries)

    def get(
        self, bucket: Hashable, vector: Vector, words: frozenset[str] = frozenset()
    ) -> SemanticHit | None:
        """The decision of the most similar recent question in ``bucket``, if its cosine
        reaches the threshold and it shares ``min_overlap`` of its content words (Jaccard)
        with ``words``."""
        if self._vectors is None or self.size == 0 or vector.shape[-1] != self._vectors.shape[1]:
            return None
        cutoff = self._clock() - self.ttl_s  # rows stored before it have expired
        reusable = self._reusable_rows(bucket, words, cutoff)
        if reusable is not None:
            # Only a reusable row can be returned, so only those rows are scored (a gather;
            # the whole matrix, 2 MB by default, is not streamed through the cache), and the
            # most similar of them wins if it reaches the threshold.
            if not reusable:
                return None  # the cosines could not change that
            if len(reusable) * _GATHER_SHARE > self._filled:  # a gather would copy most rows
                cosines = (self._vectors[: self._filled] @ vector)[reusable]
            else:
                cosines = self._vectors[reusable] @ vector
            best = int(cosines.argmax())
            cosine = float(cosines[best])
            if not cosine >= self.threshold:  # a NaN cosine is no hit either
                return None
            entry = self._entries[reusable[best]]
            assert entry is not None  # a reusable row holds an entry
            return SemanticHit(entry.decision, entry.question, cosine)
        filled = self._filled  # rows in use: a view of them, never a copy
        cosines = self._vectors[:filled] @ vector
        rows = np.flatnonzero(cosines >= self.threshold)
        if len(rows):  # of those (usually none), the rows of this bucket not yet expired
            fresh = self._stored[rows] >= cutoff
            rows = rows[fresh & (self._buckets[rows] == hash(bucket))]
        if not len(rows):
            return None
        cosines = cosines[rows]
        for best in np.argsort(-cosines)[:_CHECKED].tolist():
            entry = self._entries[int(rows[best])]
            if entry is not None and entry.bucket == bucket:
                return SemanticHit(entry.decision, entry.question, float(cosines[best]))
        return None

    def _overlaps(self, mine: frozenset[str], theirs: frozenset[str]) -> bool:
        union = mine | theirs
        return not union or len(mine & theirs) / len(union) >= self.min_overlap

    def _reusable_rows(
        self, bucket: Hashable, words: frozenset[str], cutoff: float
    ) -> list[int] | None:
        """The rows of ``bucket`` stored since ``cutoff`` that share enough content words
        with ``words`` to be reused (their cosine aside); None: every row may be. Only rows
        holding enough of the question's words can: sharing ``s`` of its ``n`` words, the
        Jaccard overlap is at most ``s / n``."""
        if self.min_overlap <= 0:
            return None  # any two questions overlap enough
        candidates: Iterable[int] = self._wordless
        if words:
            count = len(words)
            need = next((s for s in range(1, count + 1) if s / count >= self.min_overlap), 0)
            if not need:
                return []  # no overlap reaches min_overlap
            postings = [self._rows_with.get(word, _NO_ROWS) for word in words]
            if need == count:  # rows holding every word
                postings.sort(key=len)
                candidates = postings[0].intersection(*postings[1:])
            else:
                held = Counter(chain.from_iterable(postings))
                candidates = [row for row, shared in held.items() if shared >= need]
        stored = self._stored
        return [
            row
            for row in candidates
            if (entry := self._entries[row]) is not None
            and entry.bucket == bucket
            and stored[row] >= cutoff
            and self._overlaps(entry.words, words)
        ]

    def put(
        self,
        bucket: Hashable,
        vector: Vector,
        question: str,
        decision: RouteDecision,
        words: frozenset[str] = frozenset(),
    ) -> None:
        """Remember ``question``'s decision (the oldest entry makes room)."""
        if self.size == 0:
            return
        if self._vectors is None:
            self._vectors = np.zeros((self.size, vector.shape[-1]), dtype=np.float32)
        elif vector.shape[-1] != self._vectors.shape[1]:
            return
        row = self._next
        self._next = (row + 1) % self.size
        self._filled = max(self._filled, row + 1)
        self._vectors[row] = vector
        self._buckets[row] = hash(bucket)
        self._stored[row] = self._clock()
        self._index_words(row, self._entries[row], words)
        self._entries[row] = _Entry(bucket, question, decision, words)

    def _index_words(self, row: int, replaced: _Entry | None, words: frozenset[str]) -> None:
        """Move ``row`` in the index by word from the ``replaced`` entry's words to ``words``."""
        if replaced is not None:
            for word in replaced.words:
                rows = self._rows_with[word]
                rows.discard(row)
                if not rows:
                    del self._rows_with[word]
            self._wordless.discard(row)
        for word in words:
            self._rows_with.setdefault(word, set()).add(row)
        if not words:
            self._wordless.add(row)
