"""``kefu serve``'s HTTP server: uvicorn with a graceful drain.

On SIGTERM (or Ctrl-C) it stops accepting connections, marks the process draining (``/ready``
answers 503, live event streams end at their next ping), lets the answers in flight stream
to their end for up to ``KEFU_DRAIN_TIMEOUT_S``, cuts off what is left, closes the store
(the turns already answered are written) and exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from kefu.api.http_parser import HttpParser
from kefu.api.http_protocol import guarded_http_protocol
from kefu.core.settings import Settings
from kefu.services.runtime import Runtime

__all__ = ["DrainingServer", "server_config"]

log = logging.getLogger(__name__)
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def server_config(
    app: ASGIApp,
    settings: Settings,
    *,
    host: str,
    port: int,
    parser: HttpParser = HttpParser.AUTO,
) -> uvicorn.Config:
    """uvicorn's settings for ``kefu serve``: the guarded HTTP protocol and kefu's limits."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=False,
        # Idle, slow and surplus connections cannot starve everyone else of descriptors:
        # headers must arrive in time, and a connection over the cap is closed at once.
        http=guarded_http_protocol(
            parser,
            header_timeout_s=settings.header_timeout_s,
            max_connections=settings.max_connections,
        ),
        timeout_keep_alive=int(settings.keep_alive_s),
        # SIGTERM: answers in flight finish within this, then the rest is cut off.
        timeout_graceful_shutdown=math.ceil(settings.drain_timeout_s),
        log_config=None,  # uvicorn's lines go through kefu's handler (JSON or plain)
    )


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
