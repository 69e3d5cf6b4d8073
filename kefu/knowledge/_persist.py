"""On-disk layout of a persisted knowledge index, so a restart does not re-tokenize.

``<index_dir>/index-<key>/`` holds ``manifest.json`` (format, fingerprint, embedder, the
entries and chunks), one bm25s folder per lexicon and, with an embedder, one vector folder
per kind (``faq_vectors``, ``chunk_vectors``). The key hashes the fingerprint and the
embedder's name, so switching the embedder never loads vectors of another model.

A new index is written to a temporary folder and renamed into place, then older ones are
removed: a crash leaves either the old index or the new one, never half of one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge._jieba import jieba
from kefu.knowledge._lexicon import Lexicon
from kefu.knowledge.calibration import FaqCalibration
from kefu.knowledge.passage_calibration import PassageCalibration
from kefu.knowledge.tokenizer import TOKENIZER_VERSION
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex

__all__ = ["FORMAT_VERSION", "knowledge_fingerprint", "read_manifest", "save_index"]

logger = logging.getLogger(__name__)

# Bump when the index layout or the relevance inputs change: old indexes are then rebuilt.
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_PREFIX = "index-"


def knowledge_fingerprint(
    faqs: Sequence[FaqEntry], chunks: Sequence[Chunk], embedder: str | None = None
) -> str:
    """A SHA-256 of everything the index is built from, including the tokenizer version
    and, when given, the embedder's name (a lexical-only fingerprint is unchanged)."""
    payload: list[Any] = [
        FORMAT_VERSION,
        TOKENIZER_VERSION,
        jieba.__version__,
        [_values(entry) for entry in faqs],
        [_values(chunk) for chunk in chunks],
    ]
    if embedder is not None:
        payload.append(embedder)
    encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _values(item: FaqEntry | Chunk) -> list[Any]:
    """The item's field values in order: what ``dataclasses.astuple`` gives for these flat
    types (same JSON, same fingerprints), at a tenth of its cost on 100k chunks."""
    return [getattr(item, name) for name in _FIELDS[type(item)]]


_FIELDS = {kind: [f.name for f in dataclasses.fields(kind)] for kind in (FaqEntry, Chunk)}


def save_index(
    index_dir: Path,
    fingerprint: str,
    faqs: Sequence[FaqEntry],
    chunks: Sequence[Chunk],
    lexicons: Mapping[str, Lexicon],
    vectors: Mapping[str, EmbeddedVectorIndex] | None = None,
    embedder: str | None = None,
    calibration: FaqCalibration | None = None,
    passages: PassageCalibration | None = None,
    writers: Sequence[Callable[[Path], None]] = (),
) -> None:
    """Write the index for ``fingerprint``; a failure is logged, the in-memory index stays.

    ``writers`` add their own files to the new index's folder (the FAQ classifier)."""
    target = _folder(index_dir, fingerprint, embedder)
    staging = index_dir / f".tmp-{uuid.uuid4().hex}"
    try:
        staging.mkdir(parents=True)
        for name, lexicon in lexicons.items():
            lexicon.save(staging / name)
        for name, vector_index in (vectors or {}).items():
            vector_index.save(staging / name)
        if calibration is not None:  # FAQ thresholds (kefu/knowledge/calibration.py)
            calibration.save(staging)
        if passages is not None:  # passage thresholds, added to the same file
            passages.save(staging)
        for write in writers:
            write(staging)
        manifest = {
            "format": FORMAT_VERSION,
            "fingerprint": fingerprint,
            "embedder": embedder,
            "faqs": [dataclasses.asdict(entry) for entry in faqs],
            "chunks": [dataclasses.asdict(chunk) for chunk in chunks],
        }
        (staging / _MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except OSError as exc:
        logger.warning("could not save the knowledge index to %s: %s", index_dir, exc)
        shutil.rmtree(staging, ignore_errors=True)
        return
    # Older indexes go; a staging folder only once it is stale, as another process sharing
    # the folder may still be writing it.
    stale = time.time() - 3600
    for old in index_dir.iterdir():
        if old == target or not old.is_dir():
            continue
        if old.name.startswith(_PREFIX) or (
            old.name.startswith(".tmp-") and old.stat().st_mtime < stale
        ):
            shutil.rmtree(old, ignore_errors=True)


def read_manifest(
    index_dir: Path, fingerprint: str, embedder: str | None = None
) -> tuple[Path, list[FaqEntry], list[Chunk]] | None:
    """The folder, entries and chunks saved for ``fingerprint`` (and ``embedder``), or None."""
    folder = _folder(index_dir, fingerprint, embedder)
    try:
        manifest = json.loads((folder / _MANIFEST).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("ignoring an unreadable knowledge index in %s: %s", folder, exc)
        return None
    if (
        manifest.get("format") != FORMAT_VERSION
        or manifest.get("fingerprint") != fingerprint
        or manifest.get("embedder") != embedder
    ):
        return None
    try:
        faqs = [_faq_entry(item) for item in manifest["faqs"]]
        chunks = [Chunk(**item) for item in manifest["chunks"]]
    except (KeyError, TypeError) as exc:
        logger.warning("ignoring a malformed knowledge index in %s: %s", folder, exc)
        return None
    return folder, faqs, chunks


def _faq_entry(item: dict[str, Any]) -> FaqEntry:
    return FaqEntry(**{**item, "variants": tuple(item.get("variants", ()))})


def _folder(index_dir: Path, fingerprint: str, embedder: str | None) -> Path:
    seed = fingerprint if embedder is None else f"{fingerprint}\n{embedder}"
    key = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]
    return index_dir / f"{_PREFIX}{key}"
