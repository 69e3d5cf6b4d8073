"""Sensitive-word checking for streamed answers, where a word may be split across pieces."""

from __future__ import annotations

from kefu.safety.sensitive import SensitiveWords, WordHit, matching_form

__all__ = ["StreamGuard"]


class StreamGuard:
    """Releases streamed text only once no listed word can still be forming at its end.

    ``feed`` holds back a tail with as many matching characters as the longest word (so a
    word split across pieces is still caught, with one character to settle word
    boundaries); ``finish`` checks and releases the rest. When a word appears, ``hit`` is
    set (positions count from the start of the stream), the text before it is released and
    nothing after: the caller stops streaming and sends its preset reply instead.
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
        cut = len(pending) if final else _tail_start(pending, self.words.longest)
        offset = len(self._context)
        for hit in self.words.find(self._context + pending):
            start, end = hit.start - offset, hit.end - offset
            if start < 0:
                continue  # began in released text: it was judged then
            if start >= cut:
                break  # may still change as more text arrives
            self.hit = WordHit(hit.word, self._released + start, self._released + end, hit.category)
            self._pending = ""
            return pending[:start]
        released, self._pending = pending[:cut], pending[cut:]
        self._released += len(released)
        keep = 2 * self.words.longest + 8
        self._context = (self._context + released)[-keep:]
        return released


def _tail_start(text: str, longest: int) -> int:
    """Where the shortest tail holding ``longest`` matching characters begins."""
    index, count = len(text), 0
    while index > 0 and count < longest:
        index -= 1
        count += len(matching_form(text[index]))
    return index
