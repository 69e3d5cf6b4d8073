"""Split a parsed document into chunks that respect its structure.

Headings (Markdown's, and those HTML and DOCX documents were converted to) bound sections
(a chunk never spans two); inside a section chunks are packed from whole paragraphs, then
whole sentences, and only a single sentence longer than the chunk size is cut.
Consecutive chunks of a section overlap by whole sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from kefu.core.errors import ConfigError
from kefu.core.types import ChunkDraft, ParsedDocument

__all__ = ["split_document", "split_sentences"]

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at Chinese or English end punctuation (a "." only before a space or the
# end, so "3.5" and "kefu.ai" stay whole), with any closing quotes, or at a line break.
_SENTENCE_END = re.compile(
    r"(?:[。！？；!?;]+|…+|\.+(?=[\s\"”’')）\]」』]|$))[\"”’')）\]」』]*[ \t]*\n?|\n"
)
# Formats whose content has Markdown headings (HTML and DOCX are converted to them).
_HEADED_FORMATS = frozenset({"markdown", "html", "docx"})
# Where a hard split of an over-long sentence prefers to cut.
_SOFT_BREAK = re.compile(r"[\s，,、：:]")


@dataclass(slots=True)
class _Section:
    heading: str
    lines: list[str] = field(default_factory=list)


def split_document(
    doc: ParsedDocument, chunk_size: int = 400, overlap: int = 40
) -> list[ChunkDraft]:
    """Split ``doc`` into chunks of at most ``chunk_size`` characters (heading excluded)."""
    if chunk_size < 1:
        raise ConfigError("must be at least 1", key="knowledge.chunk_size")
    if not 0 <= overlap < chunk_size:
        raise ConfigError("must be between 0 and chunk_size - 1", key="knowledge.chunk_overlap")
    markdown = doc.metadata.get("format", "markdown") in _HEADED_FORMATS
    sections = _markdown_sections(doc.content) if markdown else [_Section("", [doc.content])]
    drafts: list[ChunkDraft] = []
    for section in sections:
        paragraphs = [
            sentences
            for block in _PARAGRAPH_BREAK.split("\n".join(section.lines))
            if (sentences := split_sentences(block))
        ]
        for content in _pack(paragraphs, chunk_size, overlap):
            drafts.append(
                ChunkDraft(position=len(drafts), content=content, heading=section.heading)
            )
    return drafts


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences, each keeping its trailing space so they join back."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            if text[start : match.end()].strip():
                sentences.append(text[start : match.end()])
            start = match.end()
    if text[start:].strip():
        sentences.append(text[start:])
    return sentences


def _markdown_sections(content: str) -> list[_Section]:
    """Sections of a Markdown text, each named by its heading path ("A > B")."""
    sections = [_Section("")]
    path: list[tuple[int, str]] = []
    in_fence = False
    for line in content.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _HEADING.match(line)):
            level, title = len(match.group(1)), (match.group(2) or "").strip()
            path = [(lvl, text) for lvl, text in path if lvl < level]
            if title:
                path.append((level, title))
            sections.append(_Section(" > ".join(text for _, text in path)))
            continue
        sections[-1].lines.append(line)
    return sections


def _render(pieces: list[tuple[int, str]]) -> str:
    """Join (paragraph, sentence) pieces: sentences as written, paragraphs by a blank line."""
    paragraphs: list[list[str]] = []
    last = None
    for number, sentence in pieces:
        if number != last:
            paragraphs.append([])
            last = number
        paragraphs[-1].append(sentence)
    return "\n\n".join("".join(sentences).strip() for sentences in paragraphs)


def _pack(paragraphs: list[list[str]], size: int, overlap: int) -> Iterator[str]:
    """Greedy packing: whole paragraphs if they fit, else sentences, else hard splits."""
    current: list[tuple[int, str]] = []
    carried = 0  # how many pieces at the start of ``current`` repeat the previous chunk

    def fits(pieces: list[tuple[int, str]]) -> bool:
        return len(_render(pieces)) <= size

    def tail(pieces: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """The trailing sentences of a finished chunk that fit in ``overlap`` characters."""
        kept: list[tuple[int, str]] = []
        for piece in reversed(pieces):
            if len(_render([piece, *kept])) > overlap:
                break
            kept.insert(0, piece)
        return kept

    for number, sentences in enumerate(paragraphs):
        paragraph = [(number, sentence) for sentence in sentences]
        if not fits(current + paragraph) and len(current) > carried:
            yield _render(current)
            current = tail(current)
            carried = len(current)
        if fits(current + paragraph):
            current += paragraph
            continue
        for piece in paragraph:
            if fits([*current, piece]):
                current.append(piece)
                continue
            if len(current) > carried:
                yield _render(current)
                current = tail(current)
                carried = len(current)
            while current and not fits([*current, piece]):
                current.pop(0)
                carried -= 1
            if fits([piece]):
                current.append(piece)
                continue
            *heads, last = _hard_split(piece[1].strip(), size)
            yield from heads
            current, carried = [(number, last)], 0
    if len(current) > carried:
        yield _render(current)


def _hard_split(sentence: str, size: int) -> list[str]:
    """Cut an over-long sentence into pieces of at most ``size``, at a space or comma if near."""
    parts: list[str] = []
    while len(sentence) > size:
        window = sentence[:size]
        cut = max((m.end() for m in _SOFT_BREAK.finditer(window)), default=0)
        if cut < size * 0.8:
            cut = size
        parts.append(sentence[:cut].strip())
        sentence = sentence[cut:].lstrip()
    parts.append(sentence)
    return [part for part in parts if part]
