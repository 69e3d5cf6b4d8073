"""Deterministic test doubles for the embedder and reranker protocols."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Words that mean the same thing to the fake model (what a real embedder learns).
CONCEPTS = {
    "parcel": "ship",
    "package": "ship",
    "delivery": "ship",
    "shipping": "ship",
    "arrive": "ship",
    "come": "ship",
    "money": "refund",
    "back": "refund",
    "refund": "refund",
    "reimburse": "refund",
    "password": "login",
    "login": "login",
    "sign": "login",
}
_WORD = re.compile(r"[a-z]+|[\u4e00-\u9fff]")
_STOP = frozenset("a an the my i me to do does how when will is it of can".split())


class ConceptEmbedder:
    """Bag of concepts hashed into ``dim`` buckets: synonyms share a bucket, word order and
    stopwords do not count, so a paraphrase with no shared word still scores high."""

    def __init__(self, dim: int = 64, name: str = "fake:concepts") -> None:
        self._dim = dim
        self._name = name
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        vectors = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                if word in _STOP:
                    continue
                concept = CONCEPTS.get(word, word)
                bucket = int(hashlib.md5(concept.encode()).hexdigest(), 16) % self._dim
                vectors[row, bucket] += 1.0
            vectors[row, 0] += 0.05  # never a zero vector
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / norms


class KeywordReranker:
    """Scores a text 0.9 when it contains ``keyword``, else 0.1."""

    def __init__(self, keyword: str) -> None:
        self.keyword = keyword
        self.seen: list[list[str]] = []

    @property
    def name(self) -> str:
        return "fake:keyword"

    def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        self.seen.append(list(texts))
        return [0.9 if self.keyword in text else 0.1 for text in texts]
