"""Micro-batching of query encodings: concurrent turns share one encoder call.

A local encoder costs far less per text in a batch than one text at a time (USE
multilingual: ~2.7 ms for one Chinese query, ~1 ms each in a batch of 32 on the shared
2-core machine), and under load many turns wait for their query's vector at once. One
encoder thread per embedder takes every text waiting when it is free (up to ``max_batch``,
after waiting ``window_s`` for more if asked), encodes them in one call and hands each
turn its row. An idle server pays nothing extra: a lone query is encoded at once.

Written by hand: the batching servers (TEI, Triton) are model servers, and a thread with a
queue is all an in-process encoder needs.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["QueryBatcher"]

Array = npt.NDArray[np.float32]

# A text waiting for its vector, and the coroutine's ``asyncio.Future`` (which knows its loop).
_Waiter = tuple[str, "asyncio.Future[Array]"]


class QueryBatcher:
    """Encodes texts awaited from any event loop in shared batches.

    A coroutine's vector comes back on an ``asyncio.Future`` of its own loop, and a batch
    wakes each loop once to resolve all of its futures (one ``call_soon_threadsafe`` per
    batch, not one per turn: chaining a thread future into an asyncio future per turn cost
    the event loop ~25 µs a turn under load, bench/turn_cpu.py).
    """

    def __init__(
        self,
        embed: Callable[[Sequence[str]], Array],
        *,
        max_batch: int = 64,
        window_s: float = 0.0,
        name: str = "kefu-query-encoder",
    ) -> None:
        self._embed = embed
        self.max_batch = max_batch
        self.window_s = window_s
        self._name = name
        self._queue: queue.SimpleQueue[_Waiter] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # encoder calls made, and texts they encoded (for tests and benches)
        self.encoded = 0

    async def aembed(self, texts: Sequence[str]) -> Array:
        """The vectors of ``texts`` (one row each, in order), awaited without blocking."""
        loop = asyncio.get_running_loop()
        self._start()
        if len(texts) == 1:  # a turn's one question: no gather, no stack
            future: asyncio.Future[Array] = loop.create_future()
            self._queue.put((texts[0], future))
            row = await future
            return row[None].copy()  # not a view: it would keep the whole batch's array
        futures: list[asyncio.Future[Array]] = []
        for text in texts:
            futures.append(loop.create_future())
            self._queue.put((text, futures[-1]))
        rows = await asyncio.gather(*futures)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    thread.start()
                    self._thread = thread

    def _take(self) -> list[_Waiter]:
        """The next batch: the first text waiting, then every other one (up to the limit)."""
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        # A turn that gave up (its deadline passed) no longer needs its vector. The future
        # is only read here (its loop may cancel it meanwhile: _settle checks again).
        return [item for item in batch if not item[1].cancelled()]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                continue
            unique = list(dict.fromkeys(text for text, _ in batch))
            try:
                vectors = self._embed(unique)
            except Exception as exc:  # the waiting turns see the encoder's error
                _hand_back(batch, dict.fromkeys(unique, exc))
                continue
            self.batches += 1
            self.encoded += len(unique)
            _hand_back(batch, dict(zip(unique, vectors, strict=True)))


def _hand_back(batch: list[_Waiter], results: Mapping[str, Array | Exception]) -> None:
    """Each waiter's row of ``results`` (or the encoder's error): each event loop's futures
    in one callback on that loop."""
    per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Array], Array | Exception]]]
    per_loop = {}
    for text, future in batch:
        per_loop.setdefault(future.get_loop(), []).append((future, results[text]))
    for loop, settled in per_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:  # that loop has closed: nobody waits on it any more
            pass


def _settle(settled: list[tuple[asyncio.Future[Array], Array | Exception]]) -> None:
    """On the waiters' event loop: resolve every future not cancelled meanwhile."""
    for future, outcome in settled:
        if future.done():
            continue
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
