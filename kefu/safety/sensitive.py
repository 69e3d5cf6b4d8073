"""Sensitive words found with an Aho-Corasick automaton, robust to simple evasion.

Words and text are compared in their *matching form*: NFKC (full-width → half-width), lower
case, traditional → simplified, separators dropped ("傻*逼", "f.u.c.k", "加 我 微 信"). Hits map
back to spans of the original text. Latin words match whole words only ("class" is not
"ass"), and spaces split a Latin word only when it is spelled out ("f u c k").
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate
from typing import Any

import ahocorasick

from kefu.core.hanzi import simplified_table

__all__ = ["SensitiveWords", "WordHit", "matching_form"]

# Dropped inside words. Sentence punctuation (，。！？,!?;:) and newlines are kept: they end
# a phrase, so "我不傻。逼我也没用" holds no insult.
_SEPARATORS = frozenset(" \t*.·•・…_-—–~`'\"|/\\+=#^&@%$()[]{}<>")
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Mn", "Me", "Cf", "So", "Sk", "Pd", "Pc"})
_CACHE_LIMIT = 65_536  # distinct code points remembered; bounds memory under hostile input


class _MatchingForms(dict[int, str]):
    """``str.translate`` table from a code point to its matching form, filled on demand."""

    def __missing__(self, code: int) -> str:
        form = "".join(
            ch
            for ch in unicodedata.normalize("NFKC", chr(code)).lower()
            if ch not in _SEPARATORS and unicodedata.category(ch) not in _SEPARATOR_CATEGORIES
        ).translate(simplified_table())
        if len(self) < _CACHE_LIMIT:
            self[code] = form
        return form


_FORMS = _MatchingForms()


def matching_form(text: str) -> str:
    """``text`` as the automaton sees it: normalised, lower case, simplified, no separators."""
    return text.translate(_FORMS)


def _is_latin(char: str) -> bool:
    """A letter or digit of an alphabetic script (not CJK), after normalisation."""
    form = _FORMS[ord(char)]
    return bool(form) and form[0].isalnum() and form[0] < "\u2e80"


@dataclass(frozen=True, slots=True)
class WordHit:
    """A listed word found in a text; ``text[start:end]`` is what matched."""

    word: str
    start: int
    end: int
    category: str | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    word: str
    category: str | None
    length: int  # in matching form
    spaces: frozenset[int]  # matching-form offsets where the listed word has a space
    allow: bool = False


def _entry(word: str, category: str | None, *, allow: bool = False) -> _Entry | None:
    form, spaces = "", set()
    for char in word:
        if char.isspace() and form:
            spaces.add(len(form))
        form += _FORMS[ord(char)]
    return _Entry(word, category, len(form), frozenset(spaces), allow) if form else None


def _parse(lines: Iterable[str]) -> list[tuple[str, str | None]]:
    """``word`` or ``word<TAB>category`` lines; blank lines and ``#`` comments are skipped."""
    parsed: list[tuple[str, str | None]] = []
    for line in lines:
        word, _, category = line.partition("\t")
        if word.strip() and not line.lstrip().startswith("#"):
            parsed.append((word.strip(), category.strip() or None))
    return parsed


@cache
def _default_words() -> tuple[tuple[str, str | None], ...]:
    data = resources.files("kefu.safety").joinpath("data", "sensitive_words.txt")
    return tuple(_parse(data.read_text(encoding="utf-8").splitlines()))


class SensitiveWords:
    """An immutable set of sensitive words (with categories) and allowed phrases."""

    def __init__(self, words: Iterable[tuple[str, str | None]], allow: Iterable[str] = ()) -> None:
        allowed = {e.word: e for a in allow if (e := _entry(a, None, allow=True))}
        by_form: dict[str, _Entry] = {}
        for word, category in words:
            entry = _entry(word, category)
            if entry is not None:
                by_form[matching_form(word)] = entry  # a later list overrides a category
        for entry in allowed.values():
            form = matching_form(entry.word)
            if by_form.pop(form, None) is None:  # allowing a listed word just removes it
                by_form[form] = entry
        self._entries = tuple(by_form.values())
        self._automaton: Any = None
        if by_form:
            self._automaton = ahocorasick.Automaton()
            for index, form in enumerate(by_form):
                self._automaton.add_word(form, index)
            self._automaton.make_automaton()
        self.longest = max((e.length for e in self._entries), default=0)

    @classmethod
    def from_lists(
        cls, words: Iterable[str] = (), *, include_default: bool = True, allow: Iterable[str] = ()
    ) -> SensitiveWords:
        """The default list (unless excluded) plus ``words`` (``word`` or ``word<TAB>category``)."""
        listed = list(_default_words()) if include_default else []
        return cls([*listed, *_parse(words)], allow)

    def __len__(self) -> int:
        return sum(not e.allow for e in self._entries)

    def find(self, text: str) -> list[WordHit]:
        """Hits in ``text``, leftmost-longest and non-overlapping, in order."""
        raw = list(self._automaton.iter(matching_form(text))) if self._automaton else []
        if not raw:
            return []
        # ends[i]: matching-form length of text[: i + 1]; maps form positions back to text.
        ends = list(accumulate(map(len, map(_FORMS.__getitem__, map(ord, text)))))
        allowed: list[tuple[int, int]] = []
        found: list[tuple[int, int, _Entry, int]] = []
        for last, index in raw:
            entry = self._entries[index]
            first = last - entry.length + 1
            if entry.allow:
                allowed.append((first, last))
                continue
            start, end = bisect_right(ends, first), bisect_right(ends, last) + 1
            if _plausible(text, start, end, entry, ends, first):
                found.append((start, end, entry, first))
        hits: list[WordHit] = []
        for start, end, entry, _ in sorted(_outside(found, allowed), key=lambda f: (f[0], -f[1])):
            if not hits or start >= hits[-1].end:
                hits.append(WordHit(entry.word, start, end, entry.category))
        return hits

    def contains(self, text: str) -> bool:
        """Whether ``text`` holds any listed word."""
        return bool(self.find(text))

    def mask(self, text: str, char: str = "*") -> str:
        """``text`` with every hit replaced by ``char``, one per original character.

        Masking can join what is left into a new hit ("傻傻逼逼" → "傻**逼" reads as 傻*逼
        when ``char`` is a separator), so it repeats until nothing is found.
        """
        while hits := self.find(text):
            parts, done = [], 0
            for hit in hits:
                parts += [text[done : hit.start], char * (hit.end - hit.start)]
                done = hit.end
            text = "".join(parts) + text[done:]
        return text


def _outside(
    found: list[tuple[int, int, _Entry, int]], allowed: list[tuple[int, int]]
) -> list[tuple[int, int, _Entry, int]]:
    """Finds not inside an allowed phrase (compared in matching-form positions)."""
    if not allowed:
        return found
    allowed.sort()
    kept, reach, next_allowed = [], -1, 0
    for find in sorted(found, key=lambda f: f[3]):
        while next_allowed < len(allowed) and allowed[next_allowed][0] <= find[3]:
            reach = max(reach, allowed[next_allowed][1])
            next_allowed += 1
        if find[3] + find[2].length - 1 > reach:
            kept.append(find)
    return kept


def _plausible(text: str, start: int, end: int, entry: _Entry, ends: list[int], first: int) -> bool:
    """Whole-word rules for Latin edges and spaces inside a match; CJK always passes."""
    if _is_latin(text[start]) and _joined(text, start, -1):
        return False
    if _is_latin(text[end - 1]) and _joined(text, end - 1, +1):
        return False
    gap_start = None
    for i in range(start + 1, end):
        if not _FORMS[ord(text[i])]:
            gap_start = i if gap_start is None else gap_start
            continue
        if gap_start is not None and any(c.isspace() for c in text[gap_start:i]):
            offset = ends[i - 1] - first  # of text[i] within the word's matching form
            spelled_out = _run(text, gap_start - 1, -1) == 1 and _run(text, i, +1) == 1
            if _is_latin(text[i]) and _is_latin(text[gap_start - 1]):
                if offset not in entry.spaces and not spelled_out:
                    return False
        gap_start = None
    return True


def _run(text: str, index: int, step: int) -> int:
    """Length of the run of Latin characters from ``index`` in direction ``step`` (max 2)."""
    count = 0
    while 0 <= index < len(text) and count < 2 and _is_latin(text[index]):
        count, index = count + 1, index + step
    return count


def _gap(text: str, index: int, step: int) -> str:
    """The separators right next to ``text[index]`` in direction ``step``."""
    other = index + step
    while 0 <= other < len(text) and not _FORMS[ord(text[other])]:
        other += step
    return text[min(index, other) + 1 : max(index, other)]


def _joined(text: str, edge: int, step: int) -> bool:
    """Whether the word at ``edge`` continues past it: "class" for "ass", "p.a.s.s" for "ass"."""
    neighbour = edge + step
    if 0 <= neighbour < len(text) and _is_latin(text[neighbour]):
        # letters join letters and digits join digits: "加我vx123" holds "加我vx"
        return _FORMS[ord(text[neighbour])][0].isdigit() == _FORMS[ord(text[edge])][-1].isdigit()
    outside = _gap(text, edge, step)
    neighbour = edge + step * (len(outside) + 1)
    if not 0 <= neighbour < len(text) or not _is_latin(text[neighbour]):
        return False
    if step < 0 and _FORMS[ord(text[neighbour])] in ("a", "i"):
        return False  # the words "a" and "I": "you are a f u c k i n g idiot"
    # Across separators only a spelled-out sequence continues: single letters, same separators.
    return (
        _run(text, neighbour, step) == 1
        and _run(text, edge, -step) == 1
        and outside == _gap(text, edge, -step)
    )
