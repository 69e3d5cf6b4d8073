"""The embedder protocol every adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder"]


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
