"""The guards of :mod:`kefu.api.http_protocol` on uvicorn's httptools protocol (imported
only when httptools is installed).

httptools (llhttp) parses as bytes arrive and calls back: ``on_message_begin`` at a
request's first byte, ``on_headers_complete`` once its headers are in (uvicorn starts the
app there, or queues a pipelined request), and raises ``HttpParserError`` on bytes that are
not HTTP, which uvicorn answers with ``send_400_response``.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from kefu.api.http_protocol import _MALFORMED, _Guards, _raw_error

__all__ = ["GuardedHttpToolsProtocol"]


class GuardedHttpToolsProtocol(_Guards, HttpToolsProtocol):
    # A request's first byte has arrived and its headers are not complete yet.
    _begun = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True

    def on_headers_complete(self) -> None:
        self._begun = False
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request whose headers came in already starts now; else the next
        # request's headers are awaited, within the timeout.
        awaiting_headers = not self.pipeline
        super().on_response_complete()
        if awaiting_headers and not self.transport.is_closing():
            self._arm_header_timer()

    def _request_begun(self) -> bool:
        return self._begun

    def _request_in_flight(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP: the JSON envelope instead of uvicorn's plain text."""
        cycle = self.cycle
        # Not in the middle of another response (a bad pipelined request behind a streamed
        # answer): that connection can only be closed.
        if cycle is None or not cycle.response_started or cycle.response_complete:
            self.transport.write(
                _raw_error(400, "Bad Request", "bad_request", _MALFORMED.format(msg))
            )
        if cycle is not None and not cycle.response_complete:
            # A request whose body turned out malformed (a bad chunk) is still in the app:
            # its own response must not follow this one.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
