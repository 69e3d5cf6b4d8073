"""Vectors already computed, keyed by the text's content hash, so a rebuild embeds only
what changed.

One :class:`EmbeddingCache` belongs to one embedder *identity*, its name and dimension: a
vector is only ever reused for the model that made it, and switching the encoder (or a
remote model changing its dimension) starts from an empty cache. It is persisted next to
the knowledge index (``<index_dir>/embeddings-<key>/``: ``meta.json``, ``digests.npy``,
``vectors.npy``), written to a temporary folder and renamed into place like the index, and
holds exactly the texts of the knowledge last indexed (:meth:`EmbeddingCache.retain`), so
it never outgrows the knowledge.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kefu.knowledge.embedders.base import Embedder
from kefu.knowledge.embedders.batch import BUILD_BATCH, embed_in_batches

__all__ = ["EmbedStats", "EmbeddingCache", "embedder_identity"]

logger = logging.getLogger(__name__)

_FORMAT = 1
_PREFIX = "embeddings-"
_META = "meta.json"
_DIGESTS = "digests.npy"
_VECTORS = "vectors.npy"

Array = npt.NDArray[np.float32]


def embedder_identity(embedder: Embedder) -> str:
    """What a cached vector is valid for: the embedder's name and its dimension."""
    return f"{embedder.name}|{embedder.dim}"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class EmbedStats:
    """How one :meth:`EmbeddingCache.embed` call got its vectors: ``embedded`` distinct texts
    sent to the model, ``reused`` texts answered from the cache (or a duplicate in the call)."""

    embedded: int = 0
    reused: int = 0

    def __add__(self, other: EmbedStats) -> EmbedStats:
        return EmbedStats(self.embedded + other.embedded, self.reused + other.reused)


class EmbeddingCache:
    """Content-hash → vector for one embedder identity (see :func:`embedder_identity`)."""

    def __init__(self, identity: str, dim: int) -> None:
        self.identity = identity
        self.dim = dim
        self._vectors: dict[bytes, Array] = {}
        self._dirty = False

    @classmethod
    def for_embedder(cls, embedder: Embedder) -> EmbeddingCache:
        return cls(embedder_identity(embedder), embedder.dim)

    def __len__(self) -> int:
        return len(self._vectors)

    def embed(
        self,
        embedder: Embedder,
        texts: Sequence[str],
        *,
        batch_size: int = BUILD_BATCH,
        workers: int = 1,
        on_start: Callable[[int], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> tuple[Array, EmbedStats]:
        """The vectors of ``texts`` in order; only texts not in the cache go to ``embedder``,
        each distinct text once, in batches on ``workers`` threads: ``on_start(total)`` says
        how many texts that is, ``on_progress(n)`` follows each batch."""
        if embedder_identity(embedder) != self.identity:
            raise ValueError(f"this cache holds vectors of {self.identity}, not of {embedder.name}")
        digests = [_digest(text) for text in texts]
        missing: dict[bytes, str] = {}
        for digest, text in zip(digests, texts, strict=True):
            if digest not in self._vectors and digest not in missing:
                missing[digest] = text
        if on_start is not None:
            on_start(len(missing))
        if missing:
            fresh = embed_in_batches(
                embedder,
                list(missing.values()),
                batch_size=batch_size,
                workers=workers,
                on_progress=on_progress,
            )
            if fresh.shape != (len(missing), self.dim):
                raise ValueError(f"{embedder.name} returned vectors of shape {fresh.shape}")
            for row, digest in enumerate(missing):
                self._vectors[digest] = fresh[row]
            self._dirty = True
        stats = EmbedStats(len(missing), len(texts) - len(missing))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), stats
        return np.stack([self._vectors[digest] for digest in digests]), stats

    def seed(self, texts: Sequence[str], vectors: Array) -> int:
        """Remember ``vectors`` (row i embeds ``texts[i]``), e.g. from an index saved before
        the cache existed; the number of texts that were new to the cache."""
        if len(texts) != len(vectors) or (len(texts) and vectors.shape[1] != self.dim):
            raise ValueError(f"{len(texts)} texts but vectors of shape {vectors.shape}")
        added = 0
        for text, vector in zip(texts, vectors, strict=True):
            digest = _digest(text)
            if digest not in self._vectors:
                self._vectors[digest] = np.array(vector, dtype=np.float32)
                added += 1
        self._dirty |= added > 0
        return added

    def retain(self, texts: Iterable[str]) -> int:
        """Keep only the vectors of ``texts`` (the knowledge now indexed); how many went."""
        wanted = {_digest(text) for text in texts}
        stale = [digest for digest in self._vectors if digest not in wanted]
        for digest in stale:
            del self._vectors[digest]
        self._dirty |= bool(stale)
        return len(stale)

    # --- persistence ---------------------------------------------------------------------

    @staticmethod
    def folder(index_dir: Path, identity: str) -> Path:
        key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
        return index_dir / f"{_PREFIX}{key}"

    @classmethod
    def saved_count(cls, index_dir: Path, embedder: Embedder) -> int:
        """How many vectors the cache saved for ``embedder`` holds (0: none, or unreadable),
        read from its ``meta.json`` alone."""
        folder = cls.folder(index_dir, embedder_identity(embedder))
        try:
            meta = json.loads((folder / _META).read_text("utf-8"))
        except (OSError, ValueError):
            return 0
        if meta.get("identity") != embedder_identity(embedder):
            return 0
        count = meta.get("count")
        return count if isinstance(count, int) else 0

    @classmethod
    def load(cls, index_dir: Path, embedder: Embedder) -> EmbeddingCache:
        """The cache saved for ``embedder`` under ``index_dir``; empty if there is none, it
        is unreadable, or it was made by another model or dimension."""
        cache = cls.for_embedder(embedder)
        folder = cls.folder(index_dir, cache.identity)
        try:
            meta = json.loads((folder / _META).read_text("utf-8"))
            if (
                meta.get("format") != _FORMAT
                or meta.get("identity") != cache.identity
                or meta.get("dim") != cache.dim
            ):
                logger.info("ignoring the embedding cache in %s: another model or format", folder)
                return cache
            digests = np.load(folder / _DIGESTS, allow_pickle=False)
            vectors = np.load(folder / _VECTORS, allow_pickle=False)
        except FileNotFoundError:
            return cache
        except (OSError, ValueError) as exc:
            logger.warning("ignoring an unreadable embedding cache in %s: %s", folder, exc)
            return cache
        if (
            vectors.ndim != 2
            or vectors.shape != (len(digests), cache.dim)
            or digests.shape != (len(digests), 32)
        ):
            logger.warning("ignoring a damaged embedding cache in %s", folder)
            return cache
        vectors = np.asarray(vectors, dtype=np.float32)
        cache._vectors = {digest.tobytes(): vectors[row] for row, digest in enumerate(digests)}
        return cache

    def save(self, index_dir: Path) -> None:
        """Write the cache under ``index_dir`` if it changed, and remove the caches of other
        embedders; a failure is logged (the next build then embeds what it must)."""
        target = self.folder(index_dir, self.identity)
        if self._dirty or not target.is_dir():
            staging = index_dir / f".tmp-{uuid.uuid4().hex}"
            try:
                staging.mkdir(parents=True)
                # one row of 32 bytes per digest (numpy's "S32" would strip trailing NULs)
                digests = np.frombuffer(b"".join(self._vectors), dtype=np.uint8).reshape(-1, 32)
                vectors = np.zeros((len(self._vectors), self.dim), dtype=np.float32)
                if self._vectors:
                    vectors = np.stack(list(self._vectors.values())).astype(np.float32)
                np.save(staging / _DIGESTS, digests, allow_pickle=False)
                np.save(staging / _VECTORS, vectors, allow_pickle=False)
                meta = {
                    "format": _FORMAT,
                    "identity": self.identity,
                    "dim": self.dim,
                    "count": len(self._vectors),
                }
                (staging / _META).write_text(json.dumps(meta), "utf-8")
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staging, target)
            except OSError as exc:
                logger.warning("could not save the embedding cache to %s: %s", index_dir, exc)
                shutil.rmtree(staging, ignore_errors=True)
                return
            self._dirty = False
        for other in index_dir.glob(f"{_PREFIX}*"):
            if other != target and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)  # another encoder's vectors
