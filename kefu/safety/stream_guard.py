"""Sensitive-word checking for streamed answers, where a word may be split across pieces."""

from __future__ import annotations

from kefu.safety.sensitive import SensitiveWords, WordHit

__all__ = ["StreamGuard"]


class StreamGuard:
    """Checks streamed text on a buffer of what was already shown, releasing it at once.

    A listed word is never shown whole: the piece that would complete it is withheld,
    ``hit`` is set (positions count from the start of the stream) and nothing more is
    released; the caller replaces the answer with its preset reply (Dify's
    ``message_replace``). Its beginning may have been shown — holding back every character
    that could begin a word ("你" begins several) would delay every answer's first token.
    The one thing held back is a complete Latin word at the very end, whose boundary the
    next character settles ("ass" may become "assist").
    """

    def __init__(self, words: SensitiveWords) -> None:
        self.words = words
        self.hit: WordHit | None = None
        self._pending = ""  # received, not yet released
        self._context = ""  # the end of the released text, for word-boundary checks
        self._released = 0  # characters released so far

    def feed(self, piece: str) -> str:
        """Take the next piece; return the text that is safe to release now."""
        if self.hit is not None:
            return ""
        self._pending += piece
        return self._release(final=False)

    def finish(self) -> str:
        """End of the stream: return whatever was held back, if it is clean."""
        if self.hit is not None:
            return ""
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        pending = self._pending
        cut = len(pending)
        offset = len(self._context)
        for hit in self.words.find(self._context + pending):
            start, end = hit.start - offset, hit.end - offset
            if end <= 0:
                continue  # wholly in released text: it was judged then
            if start >= cut:
                break  # may still change as more text arrives
            if not final and end == len(pending) and pending[-1].isascii():
                cut = max(start, 0)  # a Latin word at the very end: "ass" may become "assist"
                break
            # (A word begun in released text may complete now: its start was already shown.)
            self.hit = WordHit(hit.word, self._released + start, self._released + end, hit.category)
            self._pending = ""
            return pending[: max(start, 0)]
        released, self._pending = pending[:cut], pending[cut:]
        self._released += len(released)
        keep = 2 * self.words.longest + 8
        self._context = (self._context + released)[-keep:]
        return released
