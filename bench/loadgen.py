"""Asyncio HTTP/1.1 load generator: the fallback of ``bench/faq_throughput.py`` when wrk is missing.

It runs in its own process (so its CPU time is not charged to the orchestrator) and speaks raw
HTTP/1.1 over keep-alive ``asyncio`` streams on uvloop, which costs far less per request than a
full HTTP client library and therefore leaves more CPU to the server under test.

Usage::

    python bench/loadgen.py SPEC.json

``SPEC.json`` holds ``host``, ``port``, ``path``, ``api_key``, ``bodies`` (list of JSON strings),
``connections``, ``warmup_s``, ``duration_s`` and ``timeout_s``.  The result is one JSON object
on stdout: ``requests`` (completed responses, any status), ``non2xx``, ``socket_errors``,
``duration_s``, ``rps`` and latency percentiles in milliseconds (nearest-rank, like wrk).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_HEADER_END = b"\r\n\r\n"


class ProtocolError(Exception):
    """The server sent something this minimal HTTP/1.1 client cannot read."""


@dataclass
class WorkerStats:
    """What one connection observed during the measured phase."""

    latencies_ns: list[int] = field(default_factory=list)
    non2xx: int = 0
    socket_errors: int = 0


def build_requests(spec: dict[str, Any]) -> list[bytes]:
    """Pre-encode one complete HTTP/1.1 request per body."""
    host_header = f"{spec['host']}:{spec['port']}"
    out: list[bytes] = []
    for body_text in spec["bodies"]:
        body = body_text.encode()
        head = (
            f"POST {spec['path']} HTTP/1.1\r\n"
            f"Host: {host_header}\r\n"
            f"Authorization: Bearer {spec['api_key']}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "\r\n"
        )
        out.append(head.encode() + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the server will close the connection."""
    head = await reader.readuntil(_HEADER_END)
    lines = head[: -len(_HEADER_END)].split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError) as exc:
        raise ProtocolError(f"bad status line: {lines[0]!r}") from exc
    content_length: int | None = None
    chunked = False
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            content_length = int(value.strip())
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            await reader.readexactly(size + 2)  # chunk data + CRLF
            if size == 0:
                break
    elif content_length is not None:
        await reader.readexactly(content_length)
    else:
        await reader.read()  # body delimited by EOF
        close = True
    return status, close


async def connection_loop(
    host: str,
    port: int,
    requests: list[bytes],
    offset: int,
    timeout_s: float,
    phases: list[tuple[float, WorkerStats]],
    stride: int = 1,
) -> None:
    """Drive one keep-alive connection through each ``(deadline, stats)`` phase in turn.

    Connection ``offset`` of ``stride`` sends bodies ``offset``, ``offset + stride`` …, so the
    connections never send the same end user's messages at the same moment (kefu's per-user
    rate limit would answer 429)."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    index = offset
    clock = time.perf_counter_ns
    try:
        for deadline, stats in phases:
            while time.perf_counter() < deadline:
                request = requests[index % len(requests)]
                index += stride
                try:
                    async with asyncio.timeout(timeout_s):
                        if writer is None:
                            reader, writer = await asyncio.open_connection(host, port)
                        assert reader is not None
                        started = clock()
                        writer.write(request)
                        status, close = await read_response(reader)
                        stats.latencies_ns.append(clock() - started)
                    if not 200 <= status < 300:
                        stats.non2xx += 1
                    if close:
                        writer.close()
                        reader = writer = None
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError):
                    stats.socket_errors += 1
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    await asyncio.sleep(0.01)  # do not spin if the server is gone
    finally:
        if writer is not None:
            writer.close()


def percentile_ms(sorted_ns: list[int], pct: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    if not sorted_ns:
        return float("nan")
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm up, then measure; return the summary of the measured phase."""
    requests = build_requests(spec)
    connections = int(spec["connections"])
    warmup_s = float(spec["warmup_s"])
    duration_s = float(spec["duration_s"])
    timeout_s = float(spec["timeout_s"])

    start = time.perf_counter()
    warm_end = start + warmup_s
    measure_end = warm_end + duration_s
    warm = [WorkerStats() for _ in range(connections)]
    measured = [WorkerStats() for _ in range(connections)]
    # Each connection runs the warm-up phase and then the measured phase back to back; the
    # measured window starts for everyone at ``warm_end`` (a request in flight across the boundary
    # is counted in the warm-up), so the elapsed time is from ``warm_end`` to the last response.
    tasks = [
        asyncio.create_task(
            connection_loop(
                spec["host"],
                int(spec["port"]),
                requests,
                offset=i,
                stride=connections,
                timeout_s=timeout_s,
                phases=[(warm_end, warm[i]), (measure_end, measured[i])],
            )
        )
        for i in range(connections)
    ]
    await asyncio.gather(*tasks)
    elapsed = max(time.perf_counter() - warm_end, 1e-9)

    latencies = sorted(ns for s in measured for ns in s.latencies_ns)
    count = len(latencies)
    return {
        "generator": "asyncio",
        "requests": count,
        "warmup_requests": sum(len(s.latencies_ns) for s in warm),
        "warmup_non2xx": sum(s.non2xx for s in warm),
        "non2xx": sum(s.non2xx for s in measured),
        "socket_errors": sum(s.socket_errors for s in measured),
        "duration_s": elapsed,
        "rps": count / elapsed,
        "p50_ms": percentile_ms(latencies, 50),
        "p90_ms": percentile_ms(latencies, 90),
        "p99_ms": percentile_ms(latencies, 99),
        "max_ms": latencies[-1] / 1e6 if latencies else float("nan"),
        "mean_ms": (sum(latencies) / count / 1e6) if count else float("nan"),
    }


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when installed (it is, with uvicorn[standard]), else the default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] ships uvloop
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``loadgen.py SPEC.json`` prints one JSON result line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: loadgen.py SPEC.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        result = runner.run(run(spec))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
