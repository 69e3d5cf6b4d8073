"""The batch-encode entry point for index builds: many texts, in slices, with progress.

An index build embeds thousands of texts; a chat turn embeds one. Builds go through
:func:`embed_in_batches`, which hands the embedder slices of ``batch_size`` texts (each
adapter then packs them its own way: USE into ~384-token micro-batches, the OpenAI client
into requests) and reports after each slice, so a progress bar moves and a long build
never looks hung. With ``workers`` > 1 the slices run on that many threads: numpy's matrix
products release the GIL, so a 2-core machine embeds nearly twice as fast, and a remote
server gets that many requests at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.knowledge.embedders.base import Embedder

__all__ = ["BUILD_BATCH", "build_workers", "embed_in_batches"]

# Texts per embed call during a build: large enough that USE and a remote server run at
# full speed, small enough that progress moves every second or two on one core.
BUILD_BATCH = 256
_MAX_WORKERS = 4


def build_workers() -> int:
    """Threads a build embeds with: one per core this process may use, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


def embed_in_batches(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    batch_size: int = BUILD_BATCH,
    workers: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> npt.NDArray[np.float32]:
    """``embedder.embed(texts)`` in slices of ``batch_size`` on ``workers`` threads;
    ``on_progress(n)`` (in the calling thread) after each slice with the number of texts it
    held. Vectors come back in input order."""
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be at least 1")
    starts = range(0, len(texts), batch_size)
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    if workers == 1 or len(starts) == 1:
        parts: list[npt.NDArray[np.float32]] = []
        for start in starts:
            part = texts[start : start + batch_size]
            parts.append(np.asarray(embedder.embed(part), dtype=np.float32))
            if on_progress is not None:
                on_progress(len(part))
        return np.concatenate(parts)
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    # One BLAS thread per worker for the whole build: the workers are the parallelism, and
    # an embedder that caps BLAS threads per call (USE, MiniLM) restores this value when its
    # call ends, so two overlapping calls never leave BLAS multi-threaded behind them.
    with _one_blas_thread(), ThreadPoolExecutor(workers, "kefu-embed") as pool:
        futures = {
            pool.submit(embedder.embed, texts[start : start + batch_size]): start
            for start in starts
        }
        for future in as_completed(futures):
            start = futures[future]
            vectors = np.asarray(future.result(), dtype=np.float32)
            out[start : start + len(vectors)] = vectors
            if on_progress is not None:
                on_progress(len(vectors))
    return out


def _one_blas_thread() -> AbstractContextManager[Any]:
    # threadpoolctl comes with scikit-learn, a kefu dependency
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
