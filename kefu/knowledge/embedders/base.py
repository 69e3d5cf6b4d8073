"""The embedder protocol every adapter implements, and the awaitable one remote ones add."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["AsyncEmbedder", "Embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of one fixed dimension."""

    @property
    def name(self) -> str:
        """A stable identifier of the model (used in index fingerprints and traces)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """A ``(len(texts), dim)`` array of L2-normalised vectors, in input order."""
        ...


@runtime_checkable
class AsyncEmbedder(Protocol):
    """An embedder that can also be awaited (a remote model).

    A chat turn awaits ``aembed`` for its query, so a slow server never holds the event
    loop; an embedder without it (local compute) runs in a worker thread instead.
    """

    async def aembed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """What :meth:`Embedder.embed` returns, without blocking the event loop."""
        ...
