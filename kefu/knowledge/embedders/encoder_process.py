"""The query encoder in a process of its own, so it never waits for the event loop's GIL.

In a thread, the in-process encoder shares the GIL with the event loop. Under the realistic
load (``bench/realistic_load.py``) a batch of 11 questions took 10 ms of CPU but 28-41 ms
of wall time: each of the forward pass's numpy calls releases the GIL and then waits for
the busy event loop to hand it back (~300 voluntary context switches a batch). That wait,
not the arithmetic, was most of a turn's latency. A child process has its own GIL.

The child is **forked** from the server once the model is loaded, so it shares the model's
pages (~90 MB of weights) with the server instead of reading them again: the pair costs the
child's private pages (a few MB) more than the server alone. Fork rather than spawn for
that reason; the child runs nothing but the encoder (no logging, no imports, no I/O but its
pipe), because of what a fork of a threaded process may inherit mid-use. It leaves every
object the server made to the garbage collector's permanent generation (``gc.freeze``), so
a collection in the child never touches (and copies) the server's pages.

Written by hand: ``concurrent.futures.ProcessPoolExecutor`` pickles the callable for every
call and cannot fork after the model is loaded on purpose; this is one pipe and a loop.

**Opt-in** (``KEFU_ENCODER_PROCESS=1``), because of what the fork costs in memory. The
child's private pages are not only its own work (the token-row cache, its temporaries: ~17
MB in isolation): every page of the server's heap that the server writes after the fork
stays behind, private, in the child. Under the realistic load the child held ~49 MB of
private pages after 5 s and ~50 MB after a minute, the pair ~450 MB PSS against ~390 MB
for the server alone with the encoder on a thread; in return the server answered ~10-16 %
more requests a second and a turn's P50 fell from ~52 to ~15 ms (bench/README.md,
"Encoder process"). A server with memory to spare can turn it on; the default keeps
issue 14's 400 MB.

Where ``fork`` is unavailable (Windows), or if the child cannot start, the encoder runs on
the batcher's thread as before. If the child dies, the waiting questions get the error
(their turns answer lexically, as for any failed encoder) and the next batch starts a new
child.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ENV_VAR", "EncoderProcess", "EncoderProcessError", "process_wanted"]

logger = logging.getLogger(__name__)

Array = npt.NDArray[np.float32]

ENV_VAR = "KEFU_ENCODER_PROCESS"  # "1": encode in a forked child (default: the batcher's thread)


class EncoderProcessError(RuntimeError):
    """The encoder's process ended or failed on a batch (the batch's turns stay lexical)."""


def process_wanted() -> bool:
    """Whether query encoding goes to a child process: ``KEFU_ENCODER_PROCESS`` is
    ``1``/``true``/``on`` and ``fork`` exists here."""
    if os.environ.get(ENV_VAR, "").strip().lower() not in ("1", "true", "on", "yes"):
        return False
    return "fork" in multiprocessing.get_all_start_methods()


class EncoderProcess:
    """``embed`` run in a forked child: call it like ``embed`` (from one thread at a time:
    the query batcher's). ``prepare`` runs first in this process (load the model, so the
    child shares its pages)."""

    def __init__(
        self,
        embed: Callable[[Sequence[str]], Array],
        *,
        prepare: Callable[[], Any] | None = None,
        name: str = "kefu-query-encoder",
    ) -> None:
        self._embed = embed
        self._prepare = prepare
        self._name = name
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self.starts = 0  # children started (for tests and benches)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None: not started, or ended)."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def __call__(self, texts: Sequence[str]) -> Array:
        with self._lock:
            conn = self._connection()
            try:
                conn.send(list(texts))
                ok, payload = conn.recv()
            except (EOFError, OSError) as exc:
                self._stop()
                logger.error(
                    "查询编码进程已退出，下一批将重新启动 / the query encoder's process ended "
                    "(%s); the next batch starts a new one",
                    type(exc).__name__,
                )
                raise EncoderProcessError(f"the encoder's process ended: {exc!r}") from exc
        if not ok:
            raise EncoderProcessError(str(payload))
        return payload

    def _connection(self) -> Connection:
        if self._conn is None:
            if self._prepare is not None:
                self._prepare()
            context = multiprocessing.get_context("fork")
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_serve, args=(theirs, self._embed), name=self._name, daemon=True
            )
            process.start()
            theirs.close()
            self._process, self._conn = process, ours
            self.starts += 1
        return self._conn

    def close(self) -> None:
        """End the child (it also ends by itself when this process closes its pipe)."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is not None:
            conn.close()  # the child reads end-of-file and exits
        if process is not None:
            process.join(timeout=2)
            if process.is_alive():
                process.kill()
                process.join(timeout=2)


def _serve(conn: Connection, embed: Callable[[Sequence[str]], Array]) -> None:
    """The child: encode each list of texts the pipe brings, until it closes."""
    gc.freeze()  # the server's objects: never traversed here, so never copied
    # The server's signal handling is not the child's: Ctrl+C (sent to the whole process
    # group) stops the server, which closes the pipe; SIGTERM (multiprocessing's at exit)
    # ends the child; and no signal may wake the server's event loop through its wakeup fd.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[bool, Any] = (True, embed(texts))
        except Exception as exc:  # the server decides what to do; the child keeps serving
            reply = (False, f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
