"""Turning a knowledge-API upload (text or file, plus Dify's ``process_rule``) into what the
store keeps: document chunks, or FAQ entries for a CSV/JSONL file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from kefu.appfile.app_config import KnowledgeConfig
from kefu.core.errors import InvalidParam
from kefu.core.types import ChunkDraft, FaqEntry
from kefu.knowledge import (
    DOCUMENT_SUFFIXES,
    FAQ_SUFFIXES,
    content_hash,
    parse_document,
    parse_faq,
    split_document,
)
from kefu.knowledge.limits import check_chunks, check_text

__all__ = ["MAX_NAME_CHARS", "ParsedUpload", "ProcessRule", "parse_upload", "process_rule"]

MAX_NAME_CHARS = 255
MIN_CHUNK, MAX_CHUNK = 50, 4000
_TEXT_FORMATS = {
    ".md": ".md",
    ".markdown": ".md",
    ".txt": ".txt",
    ".html": ".html",
    ".htm": ".html",
}


@dataclass(frozen=True, slots=True)
class ProcessRule:
    """How a document is cleaned and split (Dify's ``process_rule``, or the app's defaults)."""

    chunk_size: int
    chunk_overlap: int
    remove_urls: bool
    remove_emails: bool


@dataclass(frozen=True, slots=True)
class ParsedUpload:
    """An upload ready to store: its chunks or FAQ entries, content hash and metadata."""

    name: str
    content_hash: str
    meta: dict[str, Any]
    chunks: list[ChunkDraft] = field(default_factory=list)
    faqs: list[FaqEntry] = field(default_factory=list)


def process_rule(defaults: KnowledgeConfig, rule: Mapping[str, Any] | None) -> ProcessRule:
    """Read Dify's ``process_rule``: ``mode`` automatic (the app's settings) or custom, with
    ``rules.pre_processing_rules`` (``remove_urls_emails``) and ``rules.segmentation``
    (``max_tokens`` → chunk size in characters, ``chunk_overlap``; ``separator`` is not used:
    kefu splits on headings, paragraphs and sentences)."""
    automatic = ProcessRule(
        defaults.chunk_size, defaults.chunk_overlap, defaults.remove_urls, defaults.remove_emails
    )
    if not rule or rule.get("mode", "automatic") == "automatic":
        return automatic
    rules = rule.get("rules") or {}
    if not isinstance(rules, Mapping):
        raise InvalidParam("process_rule.rules must be an object")
    remove_urls, remove_emails = automatic.remove_urls, automatic.remove_emails
    for step in rules.get("pre_processing_rules") or []:
        if isinstance(step, Mapping) and step.get("id") == "remove_urls_emails":
            remove_urls = remove_emails = bool(step.get("enabled"))
    segmentation = rules.get("segmentation") or {}
    if not isinstance(segmentation, Mapping):
        raise InvalidParam("process_rule.rules.segmentation must be an object")
    size = _integer(segmentation, "max_tokens", automatic.chunk_size)
    size = min(max(size, MIN_CHUNK), MAX_CHUNK)
    overlap = _integer(segmentation, "chunk_overlap", min(automatic.chunk_overlap, size // 4))
    if not 0 <= overlap < size:
        raise InvalidParam("process_rule.rules.segmentation.chunk_overlap must be below max_tokens")
    return ProcessRule(size, overlap, remove_urls, remove_emails)


def _integer(values: Mapping[str, Any], key: str, default: int) -> int:
    value = values.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParam(f"process_rule.rules.segmentation.{key} must be an integer")
    return value


def parse_upload(name: str, data: bytes, rule: ProcessRule, *, text: bool = False) -> ParsedUpload:
    """Parse an uploaded file (its suffix picks the format) or, with ``text``, pasted text
    (Markdown unless the name ends in .txt or .html)."""
    name = name.strip()
    if not name:
        raise InvalidParam("the document needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidParam(f"the document name is longer than {MAX_NAME_CHARS} characters")
    if not data.strip():
        raise InvalidParam(f"{name}: the document is empty")
    suffix = PurePath(name).suffix.lower()
    if text:
        parse_as = f"{name}{_TEXT_FORMATS.get(suffix, '.md')}"
    elif suffix in FAQ_SUFFIXES:
        faqs = parse_faq(data, name)
        if not faqs:
            raise InvalidParam(f"{name}: no FAQ entries found")
        meta = {"path": name, "format": suffix.lstrip("."), "title": name}
        return ParsedUpload(name, content_hash(data.decode("utf-8", "replace")), meta, faqs=faqs)
    elif suffix in DOCUMENT_SUFFIXES:
        parse_as = name
    else:
        supported = ", ".join(sorted({*DOCUMENT_SUFFIXES, *FAQ_SUFFIXES}))
        raise InvalidParam(f"{name}: unsupported file type (supported: {supported})")
    parsed = parse_document(
        data, parse_as, remove_urls=rule.remove_urls, remove_emails=rule.remove_emails
    )
    check_text(len(parsed.content), parsed.name)
    chunks = split_document(parsed, rule.chunk_size, rule.chunk_overlap)
    check_chunks(len(chunks), parsed.name)
    if not chunks:
        raise InvalidParam(f"{name}: no text could be extracted")
    # The split settings are part of the hash: the same text split differently is a change.
    digest = content_hash(f"{rule.chunk_size}:{rule.chunk_overlap}:{parsed.content}")
    meta = {**parsed.metadata, "path": name}
    return ParsedUpload(name, digest, meta, chunks=chunks)
