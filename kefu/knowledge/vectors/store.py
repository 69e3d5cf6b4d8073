"""Where an app's passage vectors live when they leave the data dir: a shared vector store.

By default every replica keeps its passage vectors in the embedded index under its own data
dir (and embeds every chunk itself). With ``KEFU_MILVUS_URI`` they go to one Milvus
collection per app and knowledge version, which every replica reads: the first replica to
start embeds the chunks, the others find the collection full and skip that work.

A collection is named ``kefu_<app>_<app hash>_<knowledge key>``; the knowledge key hashes
the knowledge fingerprint (which includes the embedder's name), so a changed document or
model never reads another version's vectors.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kefu.core.errors import ConfigError
from kefu.knowledge.vectors.base import VectorIndex
from kefu.knowledge.vectors.milvus import MilvusVectorIndex

__all__ = ["MilvusVectorStore", "RemoteVectorIndex", "VectorStore", "knowledge_key"]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def knowledge_key(fingerprint: str) -> str:
    """The 16 hex digits naming one knowledge version's vectors."""
    return hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:16]


@runtime_checkable
class RemoteVectorIndex(VectorIndex, Protocol):
    """A :class:`~kefu.knowledge.vectors.VectorIndex` that also returns stored vectors, so
    a query can score the lexical candidates its nearest-neighbour search did not return."""

    def fetch(self, ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored unit vectors of these ids (unknown ones are left out)."""
        ...


class VectorStore(Protocol):
    """Opens one app's passage vectors for a knowledge version; drops the older ones."""

    @property
    def name(self) -> str:
        """What the store is, for the retrieval description and logs (no secrets)."""
        ...

    def open(self, key: str, dim: int) -> RemoteVectorIndex:
        """The collection for knowledge ``key`` (see :func:`knowledge_key`), created empty
        if missing."""
        ...

    def prune(self, keep: str) -> None:
        """Drop this app's collections other than ``keep``'s (failures are only logged)."""
        ...


class MilvusVectorStore:
    """One app's passage vectors in Milvus: a server (``http://milvus:19530``) or a
    milvus-lite file (``/data/milvus.db``, one process at a time)."""

    def __init__(self, uri: str, app: str, token: str = "") -> None:
        if not uri:
            raise ConfigError("the Milvus URI is empty", key="KEFU_MILVUS_URI")
        self._uri = uri
        self._token = token
        digest = hashlib.sha256(app.encode("utf-8")).hexdigest()[:8]
        # '-' and '_' both become '_' in a collection name; the hash keeps "a-b" and "a_b" apart
        self._prefix = f"kefu_{_UNSAFE.sub('_', app)[:64]}_{digest}_"

    @property
    def name(self) -> str:
        return "milvus"

    def collection(self, key: str) -> str:
        return f"{self._prefix}{key}"

    def open(self, key: str, dim: int) -> MilvusVectorIndex:
        return MilvusVectorIndex(self._uri, dim, self.collection(key), token=self._token)

    def prune(self, keep: str) -> None:
        try:
            from pymilvus import MilvusClient

            client = MilvusClient(self._uri, token=self._token)
        except ImportError:
            raise ConfigError(
                "the Milvus vector store needs pymilvus: pip install 'kefu[milvus]'"
            ) from None
        except Exception as exc:  # pymilvus raises MilvusException and gRPC errors
            log.warning("could not drop old Milvus collections (%s): %s", self._uri, exc)
            return
        mine = re.compile(re.escape(self._prefix) + r"[0-9a-f]{16}")
        try:
            for name in client.list_collections():
                if mine.fullmatch(name) and name != self.collection(keep):
                    client.drop_collection(name)
                    log.info("dropped the old passage vectors %s", name)
        except Exception as exc:
            log.warning("could not drop old Milvus collections: %s", exc)
        finally:
            client.close()
