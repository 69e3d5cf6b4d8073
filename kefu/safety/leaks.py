"""The answer must not recite what the model was told: the persona, the grounding policy.

Answer and secrets are compared in *compact form* (letters and digits only, folded: no
zero-width characters, separators, punctuation, case or width differences), so "Y\u200bou
are…", "YOU-ARE…" and a re-wrapped copy all count. A leak is

* any ``window`` (30) consecutive compact characters of a secret, or
* a whole sentence of a secret with at least ``min_piece`` (10) compact characters, so short
  sentences are protected too, or
* a whole secret of at least 8 compact characters (a key, a code word).

:class:`LeakGuard` checks a stream as it arrives and never releases a span that could still
become a leak: text that matches the start of some secret is held back until it is settled
(it stops matching, or a leak is found and nothing more is released).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from kefu.safety.folding import compact_form

__all__ = ["LeakGuard", "SecretIndex", "leaks_secret"]

_SENTENCE_END = re.compile(r"[。！？；!?;\n]+|\.(?:\s+|$)")


class SecretIndex:
    """The secrets' compact substrings (what may start a leak) and what completes one."""

    def __init__(self, secrets: Iterable[str], *, window: int = 30, min_piece: int = 10) -> None:
        self.window = window
        self.substrings: set[str] = set()
        self.pieces: set[str] = set()  # shorter than the window, leaked only whole
        for secret in secrets:
            compact = compact_form(secret)
            if len(compact) < 8:
                continue  # too short to mean anything ("abc" is in every other answer)
            if len(compact) < window:
                self.pieces.add(compact)
            for sentence in _SENTENCE_END.split(secret):
                piece = compact_form(sentence)
                if min_piece <= len(piece) < window:
                    self.pieces.add(piece)
            for start in range(len(compact)):
                for end in range(start + 1, min(start + window, len(compact)) + 1):
                    self.substrings.add(compact[start:end])
        self.piece_lengths = sorted({len(p) for p in self.pieces})

    def __bool__(self) -> bool:
        return bool(self.substrings)


@lru_cache(maxsize=64)
def _index(secrets: tuple[str, ...]) -> SecretIndex:
    return SecretIndex(secrets)


class LeakGuard:
    """Checks streamed text for secrets, holding back what could be the start of one.

    ``feed`` returns the text that is safe to show now; ``finish`` the rest at the end of
    the stream. Once ``leaked`` is True nothing more is released: the caller replaces the
    answer (Dify's ``message_replace``). What was released never contains a leak.
    """

    def __init__(self, secrets: Iterable[str] | SecretIndex) -> None:
        self.index = secrets if isinstance(secrets, SecretIndex) else _index(tuple(secrets))
        self.leaked = False
        self._pending = ""  # received, not yet released
        self._released = 0  # characters released so far
        self._match = ""  # the longest compact suffix of the stream that is in a secret
        self._match_starts: list[int] = []  # stream offset of each of its characters

    def feed(self, piece: str) -> str:
        """Take the next piece; return the text that is safe to release now."""
        if self.leaked:
            return ""
        offset = self._released + len(self._pending)
        self._pending += piece
        if not self.index:
            return self._release(len(self._pending))
        for position, char in enumerate(piece, start=offset):
            for folded in compact_form(char):
                if self._advance(folded, position):
                    self.leaked = True
                    self._pending = ""
                    return ""
        held_from = self._match_starts[0] if self._match else self._released + len(self._pending)
        return self._release(held_from - self._released)

    def finish(self) -> str:
        """End of the stream: whatever was held back never completed a leak."""
        if self.leaked:
            return ""
        self._match, self._match_starts = "", []
        return self._release(len(self._pending))

    def _advance(self, char: str, position: int) -> bool:
        """Extend the match by one compact character; True when it completes a leak."""
        match, starts = self._match + char, [*self._match_starts, position]
        substrings = self.index.substrings
        while match and match not in substrings:
            match, starts = match[1:], starts[1:]
        self._match, self._match_starts = match, starts
        if len(match) >= self.index.window:
            return True
        for length in self.index.piece_lengths:
            if length > len(match):
                break
            if match[-length:] in self.index.pieces:
                return True
        return False

    def _release(self, count: int) -> str:
        released, self._pending = self._pending[:count], self._pending[count:]
        self._released += len(released)
        return released


def leaks_secret(answer: str, secrets: Iterable[str]) -> bool:
    """Whether ``answer`` recites any of ``secrets`` (see the module docstring)."""
    guard = LeakGuard(secrets)
    guard.feed(answer)
    return guard.leaked
