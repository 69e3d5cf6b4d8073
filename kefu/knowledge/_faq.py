"""FAQ matching: which entries answer a query, and how surely.

``relevance`` is the F1 of two IDF-weighted coverages: how much of the query the entry
covers (all its forms together, so a query may take words from two variants) and how much
of the entry's best form the query covers. A query word the entry lacks counts against it,
so "怎么修改手机号" stays well below "如何修改收货地址" even though both say 修改.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kefu.core.types import FaqEntry, FaqHit
from kefu.knowledge._faq_scorer import FaqScorer
from kefu.knowledge._lexicon import Lexicon, Query
from kefu.knowledge.tokenizer import detect_language, tokenize

__all__ = ["FaqIndex"]

_CANDIDATES = 64  # BM25's best forms whose entries get a relevance


@dataclass(frozen=True, slots=True)
class FaqIndex:
    """FAQ entries, each indexed by its question and every variant (its "forms")."""

    entries: tuple[FaqEntry, ...]
    forms: tuple[str, ...]  # every question and variant, in entry order
    form_entry: tuple[int, ...]  # form → entry
    entry_forms: tuple[tuple[int, ...], ...]  # entry → its forms
    lexicon: Lexicon
    scorer: FaqScorer

    @classmethod
    def create(cls, entries: Sequence[FaqEntry], saved: Path | None = None) -> FaqIndex:
        """Index ``entries``, or load the lexicon ``saved`` for them instead of tokenizing."""
        forms: list[str] = []
        form_entry: list[int] = []
        entry_forms: list[tuple[int, ...]] = []
        for number, entry in enumerate(entries):
            texts = dict.fromkeys((entry.question, *entry.variants))
            entry_forms.append(tuple(range(len(forms), len(forms) + len(texts))))
            forms += texts
            form_entry += [number] * len(texts)
        if saved is None:
            lexicon = Lexicon.build([tokenize(form) for form in forms], form_entry)
        else:
            lexicon = Lexicon.load(saved, len(forms), form_entry)
        texts_by_id = lexicon.tokens
        entry_tokens = tuple(
            frozenset().union(*(lexicon.doc_tokens[form] for form in own)) for own in entry_forms
        )
        chinese = frozenset(
            i for i, text in enumerate(texts_by_id) if detect_language(text) == "zh"
        )
        entry_characters = tuple(
            frozenset("".join(texts_by_id[t] for t in tokens if t in chinese))
            for tokens in entry_tokens
        )
        return cls(
            entries=tuple(entries),
            forms=tuple(forms),
            form_entry=tuple(form_entry),
            entry_forms=tuple(entry_forms),
            lexicon=lexicon,
            scorer=FaqScorer.build(lexicon, entry_tokens, entry_characters, chinese, form_entry),
        )

    def match(self, tokens: Sequence[str], top_k: int) -> list[FaqHit]:
        """The entries that best answer a tokenized query, best first, one hit per entry."""
        query = self.lexicon.query(tokens)
        candidates = self.lexicon.candidates(query.known, _CANDIDATES) if top_k > 0 else []
        if not candidates:
            return []
        scores = dict(candidates)
        entries = np.fromiter(
            dict.fromkeys(self.form_entry[form] for form, _ in candidates), dtype=np.int64
        )
        relevance = self._form_relevance(query)
        # Only entries that can make the top ``top_k`` (ties included) need their best form.
        best = self.scorer.entry_best(relevance)[entries]
        cutoff = np.sort(best)[::-1][min(top_k, len(best)) - 1]
        finalists = entries[best >= cutoff].tolist()

        scored: list[tuple[float, float, int, FaqHit]] = []
        for entry in finalists:
            chosen = self.best_form(entry, relevance, scores)
            hit = FaqHit(
                entry=self.entries[entry],
                score=scores.get(chosen[2], 0.0),
                relevance=chosen[0],
                matched=self.forms[chosen[2]],
            )
            scored.append((hit.relevance, hit.score, -entry, hit))
        # Best first; among equals the higher BM25 score, then the entry listed first.
        scored.sort(key=lambda item: item[:3], reverse=True)
        return [hit for *_, hit in scored[:top_k]]

    def lexical_scores(self, tokens: Sequence[str]) -> tuple[np.ndarray, dict[int, float]]:
        """Every form's relevance (zeros if BM25 finds no candidate) and BM25's candidates."""
        query = self.lexicon.query(tokens)
        candidates = self.lexicon.candidates(query.known, _CANDIDATES)
        if not candidates:
            return np.zeros(len(self.forms)), {}
        return self._form_relevance(query), dict(candidates)

    def best_form(
        self, entry: int, relevance: np.ndarray, scores: dict[int, float]
    ) -> tuple[float, float, int]:
        """(relevance, BM25 score, form) of the entry's best form: highest relevance, then
        BM25 score, then the first listed."""
        chosen = (0.0, 0.0, self.entry_forms[entry][0])
        for form in self.entry_forms[entry]:
            candidate = (float(relevance[form]), scores.get(form, 0.0), form)
            if candidate[:2] > chosen[:2]:
                chosen = candidate
        return chosen

    def _form_relevance(self, query: Query) -> np.ndarray:
        known_weights = np.zeros(len(self.lexicon.weights))
        known = list(query.known)
        known_weights[known] = self.scorer.weights[known]
        chinese = [term for term in query.terms if detect_language(term[0]) == "zh"]
        characters = frozenset("".join(text for text, *_ in chinese))
        coverage = self.scorer.coverage(query, known_weights, chinese)
        precision = self.scorer.precision(query, known_weights, characters)
        return self.scorer.form_relevance(coverage, precision)
