"""Rule regular expressions out before they run, by the literal strings they cannot match
without.

Every match of ``\\b(?:ignore|disregard)\\b.{0,30}?instructions`` contains "ignore" or
"disregard" (and "instructions"): a text holding none of a pattern's *required literals*
cannot match it, so the pattern need not run. :class:`LiteralPrefilter` finds the literals
present in a text in one Aho-Corasick pass and answers which of a list of patterns may
match. Detectors that run dozens of patterns over every message (the injection rules, the
escalation phrases) spend most of their time on patterns that cannot match; this removes
that time and never changes a result: a pattern is skipped only when it provably cannot
match, and a pattern no literals are found for always runs.

The literals come from the standard library's own parse of the pattern (``re._parser``, the
parser ``re.compile`` uses). It is private, so any surprise — a parse error, a node this
module does not know, a Python without it — makes the pattern "always run", never a wrong
skip. This is the prefilter RE2 and Hyperscan build; it is written here because no
maintained Python package exposes one.

Literals are compared case-insensitively, so a pattern's own case flags do not matter (a
case-sensitive pattern merely runs a little more often): both sides are folded with
:func:`fold_for_literals`. Only ASCII characters and CJK characters without case are taken
into literals, where that folding provably agrees with ``re``'s case-insensitive matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import ahocorasick

__all__ = ["LiteralPrefilter", "fold_for_literals", "required_literals"]

# Characters that match an ASCII letter case-insensitively in Python's ``re`` (Unicode mode)
# without lower-casing to it with ``str.lower`` (tests/core checks the list against every
# code point): İ ı → i, ſ → s, the Kelvin sign → k.
_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
# CJK radicals and symbols, kana, ideographs (with extension A), compatibility ideographs,
# half- and full-width forms.
_CJK_BLOCKS = (("\u2e80", "\u9fff"), ("\uf900", "\ufaff"), ("\uff00", "\uffef"))
_MAX_ALTERNATIVES = 64  # strings a literal set may hold before a run is cut
_MAX_REPEAT = 3  # x{0,3} is expanded into literals; longer repeats are not


def fold_for_literals(text: str) -> str:
    """``text`` as literals are compared: lower case, the letters ``re`` matches to ASCII
    letters case-insensitively folded to them."""
    return text.translate(_TO_ASCII).lower()


def _plain(char: str) -> bool:
    """A character whose case-insensitive matches all fold as :func:`fold_for_literals` folds
    it: ASCII, or a CJK character or full-width sign without case (tests/core checks this
    against every code point); other characters end a literal."""
    if char.isascii():
        return True
    return any(low <= char <= high for low, high in _CJK_BLOCKS) and (
        char.lower() == char == char.upper()
    )


def _weight(literal: str) -> int:
    """How rare a literal is, roughly: a CJK character counts as two Latin ones."""
    return sum(2 if char >= "\u2e80" else 1 for char in literal)


def _best(candidates: Iterable[set[str]]) -> set[str] | None:
    """The literal set that rules most texts out: the longest shortest member, then the
    fewest members. Sets holding the empty string require nothing and are never chosen."""
    usable = [found for found in candidates if found and "" not in found]
    if not usable:
        return None
    return max(usable, key=lambda found: (min(map(_weight, found)), -len(found)))


class _Analysis:
    """Walks a parsed pattern: the exact strings a part can match (when few), and the literal
    set every match of a part contains."""

    def __init__(self, constants: Any) -> None:
        self.c = constants

    def exact_node(self, op: Any, av: Any) -> set[str] | None:
        """All strings this node can match, or None (too many, or not literal)."""
        c = self.c
        if op is c.LITERAL:
            char = chr(av)
            return {char} if _plain(char) else None
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return {""}  # zero width: consumes nothing
        if op is c.IN:
            chars: set[str] = set()
            for item_op, item_av in av:
                if item_op is not c.LITERAL or not _plain(chr(item_av)):
                    return None
                chars.add(chr(item_av))
            return chars or None
        if op is c.SUBPATTERN:
            return self.exact_sequence(av[-1])
        if op is c.ATOMIC_GROUP:
            return self.exact_sequence(av)
        if op is c.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                found = self.exact_sequence(branch)
                if found is None:
                    return None
                union |= found
                if len(union) > _MAX_ALTERNATIVES:
                    return None
            return union
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, item = av
            if high > _MAX_REPEAT:
                return None
            once = self.exact_sequence(item)
            if once is None:
                return None
            repeated: set[str] = set()
            power = {""}
            for count in range(high + 1):
                if count >= low:
                    repeated |= power
                if count < high:
                    power = {a + b for a in power for b in once}
                if len(power) > _MAX_ALTERNATIVES or len(repeated) > _MAX_ALTERNATIVES:
                    return None
            return repeated
        return None

    def exact_sequence(self, items: Iterable[tuple[Any, Any]]) -> set[str] | None:
        strings = {""}
        for op, av in items:
            found = self.exact_node(op, av)
            if found is None:
                return None
            strings = {a + b for a in strings for b in found}
            if len(strings) > _MAX_ALTERNATIVES:
                return None
        return strings

    def required_node(self, op: Any, av: Any) -> set[str] | None:
        """A literal set every match of this (non-literal) node contains one of, or None."""
        c = self.c
        if op is c.SUBPATTERN:
            return self.required_sequence(av[-1])
        if op is c.ATOMIC_GROUP:
            return self.required_sequence(av)
        if op is c.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                found = self.required_sequence(branch)
                if found is None:
                    return None
                union |= found
            return union
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            return self.required_sequence(av[2])
        return None

    def required_sequence(self, items: Iterable[tuple[Any, Any]]) -> set[str] | None:
        """A sequence's match contains each part's match: the best of its parts' literal sets
        and of its runs of literal parts (joined: ``(?:do not|don't) follow``)."""
        candidates: list[set[str]] = []
        run = {""}
        for op, av in items:
            found = self.exact_node(op, av)
            if found is not None:
                grown = {a + b for a in run for b in found}
                if len(grown) <= _MAX_ALTERNATIVES:
                    run = grown
                else:
                    candidates.append(run)
                    run = found
                continue
            candidates.append(run)
            run = {""}
            inner = self.required_node(op, av)
            if inner is not None:
                candidates.append(inner)
        candidates.append(run)
        return _best(candidates)


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Folded strings (:func:`fold_for_literals`) at least one of which every match of
    ``pattern`` contains; None when no such set is found (the pattern must always run)."""
    try:
        from re import _constants, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, flags)
        found = _Analysis(_constants).required_sequence(parsed)
    except Exception:  # any surprise: no prefilter, never a wrong one
        return None
    if found is None:
        return None
    return frozenset(fold_for_literals(literal) for literal in found)


class LiteralPrefilter:
    """Which of a list of patterns may match a text, from one pass over the text."""

    def __init__(self, patterns: Sequence[str | re.Pattern[str]]) -> None:
        """``patterns``: compiled (read with their flags), or sources without flags."""
        always: set[int] = set()
        owners: dict[str, set[int]] = {}
        for index, pattern in enumerate(patterns):
            if isinstance(pattern, re.Pattern):
                literals = required_literals(pattern.pattern, pattern.flags)
            else:
                literals = required_literals(pattern)
            if literals is None:
                always.add(index)
                continue
            for literal in literals:
                owners.setdefault(literal, set()).add(index)
        self._always = frozenset(always)
        self._automaton: Any = None
        if owners:
            self._automaton = ahocorasick.Automaton()
            for literal, indices in owners.items():
                self._automaton.add_word(literal, frozenset(indices))
            self._automaton.make_automaton()

    @property
    def always(self) -> frozenset[int]:
        """The patterns without required literals: they may match any text."""
        return self._always

    def may_match(self, text: str) -> bool:
        """Whether any of the patterns may match ``text``."""
        if self._always:
            return True
        if self._automaton is None:
            return False
        return any(True for _ in self._automaton.iter(fold_for_literals(text)))

    def candidates(self, text: str) -> set[int]:
        """Indices of the patterns that may match ``text``; the others cannot."""
        found = set(self._always)
        if self._automaton is not None:
            for _, indices in self._automaton.iter(fold_for_literals(text)):
                found |= indices
        return found
