"""Reading a knowledge index saved under ``data/index/<app>/`` (``_persist.py`` writes it):
its FAQ and chunk lexicons, its vectors (or the vector store's) and its FAQ classifier."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kefu.core.errors import InvalidParam, RetrievalError
from kefu.knowledge._dense_passages import ChunkVectors, open_chunk_vectors
from kefu.knowledge._faq import FaqIndex
from kefu.knowledge._faq_fusion import load_hubness
from kefu.knowledge._index_snapshot import ChunkIndex, Snapshot, load_vectors
from kefu.knowledge._persist import read_manifest
from kefu.knowledge.classifier_encoder import ClassifierEncoder
from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.faq_classifier import ClassifierFusion, EntryClassifierTrainer, wants_classifier
from kefu.knowledge.vectors.embedded import EmbeddedVectorIndex
from kefu.knowledge.vectors.store import VectorStore

__all__ = ["SavedIndex", "read_saved"]

# The index's own logger: these steps log as they did before they left index.py.
logger = logging.getLogger("kefu.knowledge.index")


@dataclass(frozen=True, slots=True)
class SavedIndex:
    """A saved index as read: its ``folder``, the snapshot before calibration, and its FAQ
    classifier with the second encoder that classifier reads (if any)."""

    folder: Path
    snapshot: Snapshot
    fusion: ClassifierFusion | None = None
    extra_encoder: Embedder | None = None


def read_saved(
    index_dir: Path,
    fingerprint: str,
    *,
    embedder: Embedder | None,
    dense_passages: bool,
    vector_store: VectorStore | None,
    faq_classifier: EntryClassifierTrainer | None,
    classifier_encoder: ClassifierEncoder | None,
) -> SavedIndex | None:
    """The index saved in ``index_dir`` for ``fingerprint`` and ``embedder``; None if it is
    missing, damaged (logged), or must be built again for the classifier this index has."""
    embedder_name = embedder.name if embedder is not None else None
    found = read_manifest(index_dir, fingerprint, embedder_name)
    if found is None:
        return None
    folder, faqs, chunks = found
    try:
        faq = FaqIndex.create(faqs, folder / "faq")
        chunk_index = ChunkIndex.create(chunks, folder / "chunks")
        faq_vectors: EmbeddedVectorIndex | None = None
        chunk_vectors: ChunkVectors | None = None
        if embedder is not None:
            faq_vectors = load_vectors(folder / "faq_vectors", len(faq.forms))
            if dense_passages and vector_store is not None:
                chunk_vectors = open_chunk_vectors(
                    vector_store, embedder.dim, fingerprint, len(chunks)
                )
            elif dense_passages:
                chunk_vectors = load_vectors(folder / "chunk_vectors", len(chunks))
        hubness = load_hubness(folder, len(faq.forms)) if faq_vectors is not None else None
        fusion, extra_encoder = None, None
        if faq_classifier is not None and faq_vectors is not None:
            fusion = ClassifierFusion.load(folder, faq_classifier)
            if fusion is None and wants_classifier(faqs):
                return None  # saved before the classifier: build it now
            if fusion is not None and fusion.extra_encoder is not None:
                extra_encoder = _extra_encoder_named(classifier_encoder, fusion.extra_encoder)
                if extra_encoder is None:
                    return None  # its second encoder is gone: build without
        elif ClassifierFusion.saved_in(folder):
            return None  # its thresholds read the fused relevance: build without
    except (OSError, ValueError, KeyError, IndexError, InvalidParam, RetrievalError) as exc:
        logger.warning("ignoring a damaged knowledge index in %s: %s", folder, exc)
        return None
    snapshot = Snapshot(faq, chunk_index, fingerprint, faq_vectors, chunk_vectors, hubness)
    return SavedIndex(folder, snapshot, fusion, extra_encoder)


def _extra_encoder_named(
    classifier_encoder: ClassifierEncoder | None, name: str
) -> Embedder | None:
    """The classifier's second encoder if it is still the one named (else None, logged)."""
    encoder = classifier_encoder() if classifier_encoder is not None else None
    if encoder is None or encoder.name != name:
        logger.info("the saved FAQ classifier reads %s, not available now: rebuilding", name)
        return None
    return encoder
