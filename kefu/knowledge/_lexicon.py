"""One BM25 index over token lists, plus what the relevance formula needs.

bm25s ranks candidates; relevance then compares token *sets* weighted by IDF, which needs
each document's distinct tokens and one weight per token. Both are derived from the bm25s
matrix itself, so a loaded index never re-tokenizes its documents.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from kefu.knowledge.tokenizer import informativeness

__all__ = ["Lexicon", "Query"]

_EMPTY_MARKER = "EMPTY"  # saved in place of a bm25s index for a corpus with no tokens


@dataclass(frozen=True, slots=True)
class Query:
    """A query's tokens as an index sees them."""

    known: frozenset[int]  # ids of the tokens the index has
    weight: float  # total weight of all distinct tokens, known or not
    terms: tuple[tuple[str, int | None, float], ...]  # (token, id or None, weight)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A bm25s retriever with per-document token-id sets and IDF token weights.

    ``groups`` (optional) maps each document to a group, e.g. FAQ forms to their entry:
    IDF then counts groups, so an entry with many variants does not dilute its own words.
    """

    bm25: bm25s.BM25 | None
    vocab: Mapping[str, int]
    tokens: tuple[str, ...]  # token id → text
    doc_tokens: tuple[frozenset[int], ...]
    doc_weights: tuple[float, ...]
    weights: tuple[float, ...]
    unknown_weight: float

    @classmethod
    def build(cls, documents: Sequence[Sequence[str]], groups: Sequence[int] | None) -> Lexicon:
        """Index tokenized documents (an empty corpus gives an index that matches nothing)."""
        if not any(documents):
            return cls.empty(len(documents))
        bm25 = bm25s.BM25()
        bm25.index([list(tokens) for tokens in documents], show_progress=False)
        return cls.from_bm25(bm25, len(documents), groups)

    @classmethod
    def load(cls, path: Path, num_docs: int, groups: Sequence[int] | None) -> Lexicon:
        """Load what :meth:`save` wrote to ``path``; raises OSError/ValueError if it is damaged."""
        if (path / _EMPTY_MARKER).is_file():
            return cls.empty(num_docs)
        bm25 = bm25s.BM25.load(str(path), mmap=False)
        if bm25.scores["num_docs"] != num_docs:
            raise ValueError(f"{path} indexes {bm25.scores['num_docs']} documents, not {num_docs}")
        return cls.from_bm25(bm25, num_docs, groups)

    def save(self, path: Path) -> None:
        """Write the bm25s index to the folder ``path`` (a marker file if there is none)."""
        if self.bm25 is None:
            path.mkdir(parents=True, exist_ok=True)
            (path / _EMPTY_MARKER).touch()
        else:
            self.bm25.save(str(path), show_progress=False)

    @classmethod
    def empty(cls, num_docs: int) -> Lexicon:
        return cls(None, {}, (), (frozenset(),) * num_docs, (0.0,) * num_docs, (), 0.0)

    @classmethod
    def from_bm25(cls, bm25: bm25s.BM25, num_docs: int, groups: Sequence[int] | None) -> Lexicon:
        # The matrix is CSC: column t (a token id) lists the documents that contain t.
        indptr = np.asarray(bm25.scores["indptr"])
        doc_ids = np.asarray(bm25.scores["indices"])
        token_ids = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        order = np.argsort(doc_ids, kind="stable")
        bounds = np.searchsorted(doc_ids[order], np.arange(num_docs + 1)).tolist()
        by_doc = token_ids[order].tolist()
        doc_tokens = tuple(
            frozenset(by_doc[bounds[doc] : bounds[doc + 1]]) for doc in range(num_docs)
        )

        if groups is None:  # every document its own group: the column lengths
            total = num_docs
            frequency = np.diff(indptr).tolist()
            frequency += [0] * (len(bm25.vocab_dict) - len(frequency))
        else:
            group_tokens: dict[int, set[int]] = {}
            for doc, own in enumerate(doc_tokens):
                group_tokens.setdefault(groups[doc], set()).update(own)
            total = len(group_tokens)
            frequency = [0] * len(bm25.vocab_dict)
            for shared in group_tokens.values():
                for token_id in shared:
                    frequency[token_id] += 1

        weights = [0.0] * len(frequency)
        texts = [""] * len(frequency)
        for token, token_id in bm25.vocab_dict.items():
            weights[token_id] = _idf(total, frequency[token_id]) * informativeness(token)
            texts[token_id] = token
        # Per document, the sum of its distinct tokens' weights (one bincount, not a loop).
        doc_weights = tuple(
            np.bincount(doc_ids, np.asarray(weights)[token_ids], minlength=num_docs).tolist()
        )
        return cls(
            bm25,
            bm25.vocab_dict,
            tuple(texts),
            doc_tokens,
            doc_weights,
            tuple(weights),
            _idf(total, 1),
        )

    def query(self, tokens: Iterable[str]) -> Query:
        """Weigh a query's distinct tokens against this index.

        A token the index has never seen weighs as much as the rarest known one (times its
        informativeness): the knowledge says nothing about it, so it counts against every
        candidate.
        """
        known: set[int] = set()
        terms: list[tuple[str, int | None, float]] = []
        for token in dict.fromkeys(tokens):
            if not token:  # bm25s keeps "" in its vocabulary as a filler; never a real token
                continue
            token_id = self.vocab.get(token)
            if token_id is not None:
                known.add(token_id)
                terms.append((token, token_id, self.weights[token_id]))
            else:
                terms.append((token, None, self.unknown_weight * informativeness(token)))
        return Query(frozenset(known), sum(weight for *_, weight in terms), tuple(terms))

    def weight_of(self, token_ids: Iterable[int]) -> float:
        weights = self.weights
        return sum(weights[token] for token in token_ids)

    def candidates(
        self, token_ids: frozenset[int], limit: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Up to ``limit`` documents sharing a token with the query: (document, BM25 score).

        ``allowed`` (a boolean mask over documents) keeps only the documents it marks.
        """
        if self.bm25 is None or not token_ids:
            return []
        scores = self._bm25_scores(self.bm25, token_ids)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        if len(scores) > limit:
            top = np.argpartition(-scores, limit)[:limit]
            top = top[scores[top] > 0]
        else:
            top = np.flatnonzero(scores > 0)
        return list(zip(top.tolist(), scores[top].tolist(), strict=True))

    @staticmethod
    def _bm25_scores(bm25: bm25s.BM25, token_ids: Iterable[int]) -> np.ndarray:
        """Every document's BM25 score: what bm25s's ``get_scores_from_ids`` returns — the
        same float32 sums in the same order (token by token) — at half its cost, as it runs
        twice a turn: without its per-call checks, and one ``np.add.at`` for all the tokens
        rather than one per token."""
        if getattr(bm25, "nonoccurrence_array", None) is not None:  # BM25L / BM25+: bm25s's own
            return bm25.get_scores_from_ids(list(token_ids))
        matrix = bm25.scores  # CSC: column t lists the documents holding token t, and scores
        data, documents, starts = matrix["data"], matrix["indices"], matrix["indptr"]
        spans = [(starts[token], starts[token + 1]) for token in token_ids]
        scores = np.zeros(matrix["num_docs"], dtype=bm25.dtype)
        if not spans:
            return scores
        np.add.at(
            scores,
            np.concatenate([documents[begin:end] for begin, end in spans]),
            np.concatenate([data[begin:end] for begin, end in spans]),
        )
        return scores


def _idf(total: int, frequency: int) -> float:
    """BM25's (Lucene) IDF: positive even for a token in every group."""
    if frequency == 0:
        return 0.0
    return math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
