"""The batch-encode entry point for index builds: many texts, in slices, with progress.

An index build embeds thousands of texts; a chat turn embeds one. Builds go through
:func:`embed_in_batches`, which hands the embedder slices of ``batch_size`` texts (each
adapter then packs them its own way: USE into ~384-token micro-batches, the OpenAI client
into requests) and reports after each slice, so a progress bar moves and a long build
never looks hung.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from kefu.knowledge.embedders.base import Embedder

__all__ = ["BUILD_BATCH", "embed_in_batches"]

# Texts per embed call during a build: large enough that USE and a remote server run at
# full speed, small enough that progress moves every second or two on one core.
BUILD_BATCH = 256


def embed_in_batches(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    batch_size: int = BUILD_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> npt.NDArray[np.float32]:
    """``embedder.embed(texts)`` in slices of ``batch_size``; ``on_progress(n)`` after each
    slice with the number of texts it held. Vectors come back in input order."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    parts: list[npt.NDArray[np.float32]] = []
    for start in range(0, len(texts), batch_size):
        part = texts[start : start + batch_size]
        parts.append(np.asarray(embedder.embed(part), dtype=np.float32))
        if on_progress is not None:
            on_progress(len(part))
    return np.concatenate(parts)
