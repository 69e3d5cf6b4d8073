"""Bring an app's stored knowledge in line with files: its YAML sources or an import."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kefu import __version__
from kefu.appfile.app_config import AppConfig
from kefu.core.errors import InvalidParam
from kefu.core.records import DocumentRecord
from kefu.knowledge import (
    FAQ_SUFFIXES,
    content_hash,
    iter_document_files,
    read_document,
    read_faq_file,
    split_document,
)
from kefu.knowledge.limits import check_chunks, check_text
from kefu.store import Store

__all__ = ["ImportResult", "import_paths", "is_faq_file", "sync_config_sources"]


@dataclass(frozen=True, slots=True)
class ImportResult:
    source: str
    name: str
    kind: str
    items: int
    changed: bool


def is_faq_file(path: Path) -> bool:
    return path.suffix.lower() in FAQ_SUFFIXES


def _file_hash(path: Path, config: AppConfig) -> str | None:
    """A hash of the file's bytes and of everything its parse depends on (kefu's version,
    the cleaning and chunking settings); None if the file cannot be read (the parse then
    says why). Equal hashes mean equal chunks, so the file need not be parsed again."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    settings = config.knowledge
    head = (
        f"{__version__}:{settings.chunk_size}:{settings.chunk_overlap}:"
        f"{settings.remove_urls}:{settings.remove_emails}:"
    )
    return hashlib.sha256(head.encode("utf-8") + data).hexdigest()


def _import_file(
    store: Store,
    app_id: str,
    path: Path,
    config: AppConfig,
    origin: str,
    stored: Mapping[str, DocumentRecord],
) -> ImportResult:
    source = str(path.resolve())
    file_hash = _file_hash(path, config)
    known = stored.get(source)
    if file_hash is not None and known is not None and known.meta.get("file_hash") == file_hash:
        # The same bytes with the same settings: not parsed, split or stored again.
        return ImportResult(source, known.name, known.kind, known.chunk_count, False)
    if is_faq_file(path):
        entries = read_faq_file(path)
        digest = content_hash(path.read_text(encoding="utf-8-sig"))
        document, changed = store.knowledge.save_document(
            app_id,
            source=source,
            name=path.name,
            origin=origin,
            content_hash=digest,
            meta={
                "path": source,
                "format": path.suffix.lower().lstrip("."),
                "file_hash": file_hash,
            },
            faqs=entries,
        )
        return ImportResult(source, document.name, "faq", len(entries), changed)
    parsed = read_document(
        path,
        remove_urls=config.knowledge.remove_urls,
        remove_emails=config.knowledge.remove_emails,
    )
    settings = config.knowledge
    check_text(len(parsed.content), parsed.name)
    chunks = split_document(parsed, settings.chunk_size, settings.chunk_overlap)
    check_chunks(len(chunks), parsed.name)
    # The chunking settings are part of the hash: changing them re-splits the document.
    digest = content_hash(f"{settings.chunk_size}:{settings.chunk_overlap}:{parsed.content}")
    document, changed = store.knowledge.save_document(
        app_id,
        source=source,
        name=parsed.name,
        origin=origin,
        content_hash=digest,
        meta={**parsed.metadata, "file_hash": file_hash},
        chunks=chunks,
    )
    return ImportResult(source, document.name, "document", len(chunks), changed)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and the supported files inside folders (recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and is_faq_file(p))
            files.extend(iter_document_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise InvalidParam(f"no such file or folder: {path}")
    return sorted(dict.fromkeys(files))


def import_paths(
    store: Store,
    app_id: str,
    config: AppConfig,
    paths: Iterable[Path],
    *,
    origin: str = "import",
    on_file: Callable[[ImportResult], None] | None = None,
) -> list[ImportResult]:
    """Import documents and FAQ files; a file whose bytes (and the app's chunking settings)
    are unchanged since it was stored is skipped without being parsed."""
    results = []
    stored = _stored_documents(store, app_id)
    for path in expand_paths(paths):
        result = _import_file(store, app_id, path, config, origin, stored)
        results.append(result)
        if on_file is not None:
            on_file(result)
    return results


def _stored_documents(store: Store, app_id: str) -> dict[str, DocumentRecord]:
    """The app's stored documents by source, to skip files that did not change."""
    return {document.source: document for document in store.knowledge.list_documents(app_id)}


def sync_config_sources(store: Store, app_id: str, config: AppConfig) -> list[ImportResult]:
    """Import the sources the app's YAML names and drop config documents it no longer names."""
    faq_files = list(config.knowledge.faq)
    document_files = [f for p in config.knowledge.documents for f in iter_document_files(p)]
    stored = _stored_documents(store, app_id)
    results = [_import_file(store, app_id, p, config, "config", stored) for p in faq_files]
    results += [_import_file(store, app_id, p, config, "config", stored) for p in document_files]
    wanted = {r.source for r in results}
    for document in store.knowledge.list_documents(app_id):
        if document.origin == "config" and document.source not in wanted:
            store.knowledge.delete_document(app_id, document.id)
    return results
