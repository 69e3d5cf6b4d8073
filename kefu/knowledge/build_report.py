"""What an index build did, and how it reports progress while it runs.

A build tokenizes new chunks (``tokenize``), embeds the FAQ forms and chunks whose text
is new to the embedding cache (``embed``), then indexes. :class:`BuildProgress` is what a
progress bar implements (the CLI's is rich); :class:`BuildReport` says afterwards how much
was done and how much reused, for the log and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["BuildProgress", "BuildReport"]


class BuildProgress(Protocol):
    """Told about each step of a build: ``start`` with its total, ``advance`` as it goes."""

    def start(self, step: str, total: int) -> None:
        """``step`` (``tokenize`` or ``embed``) begins with ``total`` texts to process."""
        ...

    def advance(self, step: str, done: int) -> None:
        """``done`` more texts of ``step`` were processed."""
        ...


@dataclass(frozen=True, slots=True)
class BuildReport:
    """One build: the knowledge indexed, the texts tokenized and embedded, the time taken.

    ``embedded``: distinct texts sent to the embedder; ``reused``: texts whose vector came
    from the embedding cache. ``loaded``: the whole index was read from disk instead.
    """

    faq_entries: int
    chunks: int
    tokenized: int = 0
    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    loaded: bool = False
    faq_classifier: str | None = None  # whether the FAQ classifier is on, and why

    def summary(self) -> str:
        """One line for the log and the CLI, in English and Chinese."""
        if self.loaded:
            return (
                f"{self.faq_entries} FAQ entries and {self.chunks} chunks loaded from disk "
                f"in {self.seconds:.2f} s / 从磁盘载入索引"
            )
        classifier = f"; {self.faq_classifier}" if self.faq_classifier else ""
        return (
            f"{self.faq_entries} FAQ entries and {self.chunks} chunks indexed in "
            f"{self.seconds:.2f} s: {self.tokenized} chunks tokenized, {self.embedded} texts "
            f"embedded, {self.reused} reused / 新分词 {self.tokenized} 段，新编码 "
            f"{self.embedded} 条，复用 {self.reused} 条{classifier}"
        )
