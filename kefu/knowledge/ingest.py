"""Loaders: FAQ files (JSONL, CSV) and documents into domain types.

Documents: Markdown, plain text, HTML, PDF and DOCX. HTML and DOCX headings become
Markdown headings, so chunking keeps their sections apart; a PDF keeps its page count and
where each page starts as metadata.

A bad file raises :class:`~kefu.core.errors.InvalidParam` naming the file, the line and
what is wrong, so an operator can fix it without reading a traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kefu.core.errors import InvalidParam
from kefu.core.jsonl import decode_text, parse_jsonl, read_text
from kefu.core.types import FaqEntry, ParsedDocument
from kefu.knowledge._convert import (
    clean_text,
    decode_html,
    docx_to_text,
    html_to_text,
    pdf_to_text,
)

__all__ = [
    "DOCUMENT_SUFFIXES",
    "FAQ_SUFFIXES",
    "clean_text",
    "content_hash",
    "faq_id",
    "iter_document_files",
    "parse_document",
    "parse_faq",
    "read_document",
    "read_faq_file",
]

FAQ_SUFFIXES = frozenset({".jsonl", ".ndjson", ".csv"})
DOCUMENT_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

# CSV header names (lower-cased) → field; the Chinese ones are what operators type in Excel.
_CSV_COLUMNS = {
    "id": "id",
    "question": "question",
    "问题": "question",
    "answer": "answer",
    "答案": "answer",
    "variants": "variants",
    "相似问题": "variants",
}
_VARIANT_SEPARATOR = re.compile(r"[|\n]")
_MARKDOWN_TITLE = re.compile(r"^ {0,3}#[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def content_hash(text: str) -> str:
    """SHA-256 hex digest of ``text``, used to skip re-importing unchanged content."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def faq_id(question: str) -> str:
    """The stable id of an FAQ entry that has none: derived from its question."""
    return "faq-" + hashlib.sha1(question.strip().encode("utf-8")).hexdigest()[:12]


def read_faq_file(path: Path) -> list[FaqEntry]:
    """Read FAQ entries from a JSONL or CSV file; blank lines are skipped."""
    suffix = path.suffix.lower()
    if suffix not in FAQ_SUFFIXES:
        raise InvalidParam(f"{path}: unsupported FAQ file type {suffix!r} (use .jsonl or .csv)")
    return _faq_entries(path, read_text(path))


def parse_faq(data: bytes, path: Path | str) -> list[FaqEntry]:
    """Parse an uploaded FAQ file; ``path`` (or just a file name) picks JSONL or CSV."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FAQ_SUFFIXES:
        raise InvalidParam(f"{path}: unsupported FAQ file type {suffix!r} (use .jsonl or .csv)")
    return _faq_entries(path, decode_text(data, path))


def _faq_entries(path: Path, text: str) -> list[FaqEntry]:
    suffix = path.suffix.lower()
    rows = _jsonl_rows(path, text) if suffix != ".csv" else _csv_rows(path, text)
    entries: list[FaqEntry] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        entry = _faq_entry(path, line, row)
        if entry.id in first_line:
            given_id = row.get("id") not in (None, "")
            what = f"FAQ id {entry.id!r}" if given_id else "question"
            raise InvalidParam(
                f"{path}, line {line}: duplicate {what} (first on line {first_line[entry.id]})"
            )
        first_line[entry.id] = line
        entries.append(entry)
    return entries


def read_document(
    path: Path, *, remove_urls: bool = False, remove_emails: bool = False
) -> ParsedDocument:
    """Read a document file (see :data:`DOCUMENT_SUFFIXES`) and clean its text.

    The name is the document's own title (Markdown's first ``# `` line, HTML ``<title>``,
    PDF/DOCX metadata or first heading), else the file stem.
    """
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        supported = ", ".join(sorted(DOCUMENT_SUFFIXES))
        raise InvalidParam(f"{path}: unsupported document type (supported: {supported})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidParam(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return parse_document(data, path, remove_urls=remove_urls, remove_emails=remove_emails)


def parse_document(
    data: bytes, path: Path | str, *, remove_urls: bool = False, remove_emails: bool = False
) -> ParsedDocument:
    """Parse an uploaded or read document; ``path`` (or just a file name) picks the format.

    Metadata: ``path``, ``format``, ``title``, plus ``pages`` and ``page_starts`` for a PDF.
    """
    path = Path(path)
    doc_format = DOCUMENT_SUFFIXES.get(path.suffix.lower())
    if doc_format is None:
        supported = ", ".join(sorted(DOCUMENT_SUFFIXES))
        raise InvalidParam(f"{path}: unsupported document type (supported: {supported})")
    extra: dict[str, Any] = {}
    if doc_format == "html":
        content, extra = html_to_text(decode_html(data, str(path)))
    elif doc_format == "pdf":
        content, extra = pdf_to_text(data, str(path))
    elif doc_format == "docx":
        content, extra = docx_to_text(data, str(path))
    else:
        content = decode_text(data, path)
        if doc_format == "markdown":
            extra = {"title": _markdown_title(content)}
    content = clean_text(content, remove_urls=remove_urls, remove_emails=remove_emails)
    name = extra.pop("title", None) or path.stem
    metadata = {"path": str(path), "format": doc_format, "title": name, **extra}
    return ParsedDocument(name=name, content=content, metadata=metadata)


def iter_document_files(path: Path) -> list[Path]:
    """``path`` itself if it is a document, or the documents under a folder, sorted.

    Hidden files and folders (a name starting with ".") are skipped when walking.
    """
    if path.is_file():
        if path.suffix.lower() not in DOCUMENT_SUFFIXES:
            raise InvalidParam(f"{path}: unsupported document type")
        return [path]
    if not path.is_dir():
        raise InvalidParam(f"{path}: no such file or folder")
    return sorted(
        found
        for found in path.rglob("*")
        if found.is_file()
        and found.suffix.lower() in DOCUMENT_SUFFIXES
        and not any(part.startswith(".") for part in found.relative_to(path).parts)
    )


def _jsonl_rows(path: Path, text: str) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for number, row in parse_jsonl(text, path):
        if not isinstance(row, dict):
            raise InvalidParam(f"{path}, line {number}: expected a JSON object")
        yield number, row


def _csv_rows(path: Path, text: str) -> Iterable[tuple[int, Mapping[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return
        columns = [_CSV_COLUMNS.get(name.strip().lower()) for name in header]
        missing = {"question", "answer"} - set(columns)
        if missing:
            names = ", ".join(sorted(missing))
            raise InvalidParam(f"{path}, line 1: the header has no {names} column")
        end_of_previous = reader.line_num
        for cells in reader:
            start, end_of_previous = end_of_previous + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(columns):
                raise InvalidParam(
                    f"{path}, line {start}: {len(cells)} cells but the header has {len(columns)}"
                    " (quote cells that contain commas)"
                )
            yield start, {col: cell for col, cell in zip(columns, cells, strict=False) if col}
    except csv.Error as exc:
        raise InvalidParam(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from None


def _faq_entry(path: Path, line: int, row: Mapping[str, Any]) -> FaqEntry:
    where = f"{path}, line {line}"
    question, answer = _required_text(where, row, "question"), _required_text(where, row, "answer")
    variants = _variants(where, row.get("variants"))
    raw_id = row.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        entry_id = faq_id(question)
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        entry_id = str(raw_id).strip()
    else:
        raise InvalidParam(f"{where}: 'id' must be a string or an integer")
    return FaqEntry(
        id=entry_id,
        question=question.strip(),
        answer=answer.strip(),
        variants=variants,
        document_name=path.name,
    )


def _required_text(where: str, row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidParam(f"{where}: {key!r} is missing or empty")
    return value


def _variants(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[Any] = _VARIANT_SEPARATOR.split(value)
    elif isinstance(value, list):
        parts = value
    else:
        raise InvalidParam(f"{where}: 'variants' must be a list of strings")
    if not all(isinstance(part, str) for part in parts):
        raise InvalidParam(f"{where}: 'variants' must be a list of strings")
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


def _markdown_title(content: str) -> str | None:
    in_fence = False
    for line in content.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _MARKDOWN_TITLE.match(line)):
            return match.group(1).strip()
    return None
