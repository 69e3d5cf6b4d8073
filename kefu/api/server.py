"""``kefu serve``'s HTTP server: uvicorn with a graceful drain.

On SIGTERM (or Ctrl-C) it stops accepting connections, marks the process draining (``/ready``
answers 503, live event streams end at their next ping), lets the answers in flight stream
to their end for up to ``KEFU_DRAIN_TIMEOUT_S``, cuts off what is left, closes the store
(the turns already answered are written) and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn

from kefu.services.runtime import Runtime

__all__ = ["DrainingServer"]

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DrainingServer(uvicorn.Server):
    """uvicorn whose shutdown first drains (see the module docstring)."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self._runtime = runtime

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._runtime.readiness.draining = True
        in_flight = len(self.server_state.tasks)
        log.info(
            "draining: no new connections; %d request(s) in flight get up to %g s to finish",
            in_flight,
            self._runtime.settings.drain_timeout_s,
        )
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's own version raises the signal again once it has shut down, so a drained
        process would end *by* SIGTERM (exit 143); a completed drain is a clean exit (0).
        A second Ctrl-C still cuts the drain short, as in uvicorn."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
