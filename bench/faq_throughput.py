"""FAQ-path throughput benchmark: kefu (demo app) against a bare FastAPI echo app.

Starts each server in turn as a single uvicorn process, checks that every benchmark query gets a
non-empty 200 answer, drives it with the same closed-loop load (``wrk`` when installed, else the
asyncio generator of ``bench/loadgen.py`` in its own process), and prints requests/s, P50/P99
latency, errors and resident memory for both, the kefu/echo throughput ratio, and PASS/FAIL
against the targets:

* kefu requests/s >= 35 % of the echo app's,
* kefu P99 <= 50 ms,
* kefu resident memory after the run <= 300 MB.

Every kefu request goes through the full FAQ path *with* persistence (conversation, messages
and trace written to SQLite); the echo app stores nothing, so the ratio is the price of that.

Usage::

    .venv/bin/python bench/faq_throughput.py [--duration 15] [--connections 32] [--json]

Exit status: 0 when every target is met, 1 when one is missed, 2 when the benchmark could not
run (a server did not start, the pre-check failed, wrk was forced but is missing, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
WRK_SCRIPT = BENCH_DIR / "wrk_post.lua"
LOADGEN = BENCH_DIR / "loadgen.py"

API_KEY = "app-bench-key"
CHAT_PATH = "/v1/chat-messages"
HEALTH_PATH = "/health"

#: FAQ questions of the demo app; requests rotate through them.
QUERIES: tuple[str, ...] = (
    "订单多久发货?",
    "退货要扣多少运费?",
    "How long does shipping take?",
    "怎么修改收货地址",
    "会员等级怎么升级",
    "支持货到付款吗",
)

TARGET_RATIO = 0.35
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 300.0

READY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 10.0

EXIT_OK = 0
EXIT_TARGET_MISSED = 1
EXIT_SETUP_FAILED = 2

err_console = Console(stderr=True)
out_console = Console()


class BenchError(Exception):
    """The benchmark cannot run (as opposed to: it ran and a target was missed)."""


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """Outcome of one measured load run against one server."""

    generator: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non2xx: int
    socket_errors: int
    warmup_requests: int = 0
    warmup_non2xx: int = 0

    @property
    def errors(self) -> int:
        """Non-2xx responses plus socket errors (connect/read/write/timeout)."""
        return self.non2xx + self.socket_errors

    @property
    def ok_requests(self) -> int:
        """Responses with a 2xx status in the measured phase."""
        return self.requests - self.non2xx


@dataclass
class MemoryUsage:
    """Resident memory of a server's process tree, in MB (MiB, as /proc reports kB).

    ``rss_mb`` and ``peak_rss_mb``: the server's own resident memory (now and at its
    peak) plus each descendant's *private* pages. A forked child (a worker; kefu's tried
    encoder process, bench/README.md) shares most of its pages with the server, and its
    resident size counts them again; its private pages are what it adds. ``pss_mb``: the
    tree's proportional set size now (each shared page divided among the processes sharing
    it), the same total read another way.
    """

    rss_mb: float
    peak_rss_mb: float
    processes: int
    children_private_mb: float = 0.0
    pss_mb: float = 0.0


@dataclass
class CpuUsage:
    """CPU seconds (user + system) a server's process spent, split into its main thread (the
    event loop) and all its other threads (encoder, writer, thread pools). A reading is the
    total so far, taken at ``at`` (``time.monotonic()``); :meth:`since` gives the CPU spent
    between two readings, over ``wall_s`` seconds."""

    main_s: float
    other_s: float
    at: float = 0.0
    wall_s: float = 0.0

    def since(self, before: CpuUsage) -> CpuUsage:
        """The CPU spent between ``before`` and this reading."""
        return CpuUsage(
            main_s=self.main_s - before.main_s,
            other_s=self.other_s - before.other_s,
            wall_s=self.at - before.at,
        )

    @property
    def main_busy(self) -> float | None:
        """How busy the event loop was between two readings: its CPU over the wall time
        (1.0: saturated); None for a single reading."""
        return round(self.main_s / self.wall_s, 3) if self.wall_s > 0 else None

    def per_request_ms(self, requests: int) -> dict[str, float]:
        """Main-thread, other-thread and total CPU milliseconds per request."""
        if requests <= 0:
            return {"main": 0.0, "other": 0.0, "total": 0.0}
        scale = 1000 / requests
        return {
            "main": round(self.main_s * scale, 3),
            "other": round(self.other_s * scale, 3),
            "total": round((self.main_s + self.other_s) * scale, 3),
        }


@dataclass
class ServerResult:
    """Everything measured for one server."""

    name: str
    load: LoadResult
    memory_before: MemoryUsage
    memory_after: MemoryUsage
    #: CPU over the whole load (warm-up included), None where /proc is not readable.
    cpu: CpuUsage | None = None
    precheck_answers: dict[str, str] = field(default_factory=dict)
    persisted: dict[str, int] | None = None
    logs_requests: bool | None = None


@dataclass
class Check:
    """One PASS/FAIL line against a target."""

    name: str
    ok: bool
    value: str
    target: str


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


@dataclass
class ServerSpec:
    """How to start one server under test."""

    name: str
    argv: list[str]
    host: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the server."""
        return f"http://{self.host}:{self.port}"


def free_port(host: str) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pin_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that restricts the child to ``cpus`` (None: no pinning)."""
    if not cpus:
        return None
    frozen = set(cpus)

    def _apply() -> None:
        os.sched_setaffinity(0, frozen)

    return _apply


def _stat_fields(stat_file: str) -> list[str]:
    """The fields of a /proc ``stat`` file after the command name (field 3 on: state, ppid,
    ...). The name (field 2) may hold spaces and parentheses: split after the last ")"."""
    return Path(stat_file).read_text().rsplit(")", 1)[1].split()


def _proc_children() -> dict[int, list[int]]:
    """Map of pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat_fields(f"/proc/{entry}/stat")
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _process_tree(pid: int) -> list[int]:
    """``pid`` first, then all its descendants (from /proc)."""
    children = _proc_children()
    pids: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        stack.extend(children.get(current, []))
    return pids


def _status_kb(pid: int, key: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of /proc/<pid>/status, 0 when unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _rollup_kb(pid: int) -> dict[str, int]:
    """The ``kB`` fields of /proc/<pid>/smaps_rollup (``Pss``, ``Private_Dirty``, ...), read
    once: the kernel walks the process's page tables to write it. Empty when unreadable."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                fields[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return fields


def process_tree_memory(pid: int) -> MemoryUsage:
    """Resident memory of ``pid`` and all its descendants (see :class:`MemoryUsage`).

    ``kefu serve`` and ``python -m uvicorn`` started directly by Popen are the server process
    themselves, so normally the tree is a single process; a wrapper's or a worker-spawning
    server's children add their private pages.
    """
    pids = _process_tree(pid)
    rollups = [_rollup_kb(p) for p in pids]
    private_kb = sum(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0) for r in rollups[1:])
    rss_kb = _status_kb(pid, "VmRSS") + private_kb
    hwm_kb = _status_kb(pid, "VmHWM") + private_kb
    return MemoryUsage(
        rss_mb=rss_kb / 1024,
        peak_rss_mb=hwm_kb / 1024,
        processes=len(pids),
        children_private_mb=private_kb / 1024,
        pss_mb=sum(r.get("Pss", 0) for r in rollups) / 1024,
    )


def process_cpu(pid: int) -> CpuUsage | None:
    """CPU seconds of ``pid`` so far, its main thread apart (None: /proc not readable).

    Which thread limits a Python server matters more than the process total: the event loop
    runs on the main thread (tid == pid) and holds the GIL for every turn's Python work. The
    process's own figures include threads that have ended; the others are the difference,
    plus the CPU of its live descendants (a server's workers).
    """

    def seconds(stat_file: str) -> float:
        fields = _stat_fields(stat_file)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    try:
        total = seconds(f"/proc/{pid}/stat")
        main = seconds(f"/proc/{pid}/task/{pid}/stat")
    except (OSError, ValueError, IndexError):
        return None
    for descendant in _process_tree(pid)[1:]:
        try:
            total += seconds(f"/proc/{descendant}/stat")
        except (OSError, ValueError, IndexError):
            pass  # ended meanwhile
    return CpuUsage(main_s=main, other_s=total - main, at=time.monotonic())


class ManagedServer:
    """A server subprocess in its own session, stopped (whole group) on exit no matter what."""

    def __init__(self, spec: ServerSpec, log_dir: Path, cpus: set[int] | None) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self._cpus = cpus
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ManagedServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Launch the server; its stdout and stderr go to a log file, never to a pipe that could
        fill up and stall it under load."""
        self._log = self.log_path.open("wb")
        env = {**os.environ, **self.spec.env}
        self.proc = subprocess.Popen(
            self.spec.argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: Ctrl-C reaches us, we stop it cleanly
            preexec_fn=_pin_to(self._cpus),
        )

    @property
    def pid(self) -> int:
        """Pid of the launched server process."""
        assert self.proc is not None
        return self.proc.pid

    def log_text(self) -> str:
        """Everything the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the server's output."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Poll ``GET /health`` until it answers 200; return the seconds it took."""
        assert self.proc is not None
        started = time.monotonic()
        url = self.spec.base_url + HEALTH_PATH
        last_error = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - started < timeout_s:
                code = self.proc.poll()
                if code is not None:
                    raise BenchError(
                        f"{self.spec.name} exited with status {code} before it was ready.\n"
                        f"command: {' '.join(self.spec.argv)}\n"
                        f"--- server output ---\n{self.log_tail()}"
                    )
                try:
                    response = client.get(url)
                    if response.status_code == 200:
                        return time.monotonic() - started
                    last_error = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last_error = type(exc).__name__
                time.sleep(0.2)
        raise BenchError(
            f"{self.spec.name} did not answer 200 on {url} within {timeout_s:.0f} s "
            f"(last: {last_error}).\n--- server output ---\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


# --------------------------------------------------------------------------------------------
# Requests and pre-check
# --------------------------------------------------------------------------------------------


BENCH_USERS = 12_000


def build_bodies(users: int = BENCH_USERS) -> list[str]:
    """Request bodies to rotate through: the queries in turn, each from one of ``users``
    end users, as a shop's many customers would (kefu rate-limits each end user, so a
    handful of users sending thousands of messages a second would measure 429s)."""
    count = math.lcm(len(QUERIES), max(1, users))
    return [
        json.dumps(
            {
                "query": QUERIES[i % len(QUERIES)],
                "inputs": {},
                "user": f"bench-user-{i % users}",
                "response_mode": "blocking",
                "conversation_id": "",
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for i in range(count)
    ]


def precheck(spec: ServerSpec) -> dict[str, str]:
    """Send each query once; every answer must be 200 with a non-empty ``answer``.

    Returns query -> answer.  Raises :class:`BenchError` describing every failing query.
    """
    answers: dict[str, str] = {}
    problems: list[str] = []
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=spec.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        for query in QUERIES:
            body = {
                "query": query,
                "inputs": {},
                "user": "bench-user-precheck",
                "response_mode": "blocking",
                "conversation_id": "",
            }
            try:
                response = client.post(CHAT_PATH, json=body, headers=headers)
            except httpx.HTTPError as exc:
                problems.append(f"{query!r}: request failed: {exc!r}")
                continue
            if response.status_code != 200:
                problems.append(f"{query!r}: HTTP {response.status_code}: {response.text[:300]}")
                continue
            try:
                payload = response.json()
            except ValueError:
                problems.append(f"{query!r}: response is not JSON: {response.text[:300]}")
                continue
            answer = payload.get("answer") if isinstance(payload, dict) else None
            if not isinstance(answer, str) or not answer.strip():
                problems.append(f"{query!r}: empty or missing 'answer': {response.text[:300]}")
                continue
            missing = [k for k in ("conversation_id", "message_id") if not payload.get(k)]
            if missing:
                err_console.print(
                    f"[yellow]warning:[/] {spec.name}: answer to {query!r} lacks {missing}"
                )
            answers[query] = answer
    if problems:
        raise BenchError(
            f"pre-check against {spec.name} failed — not every benchmark query gets a "
            f"non-empty 200 answer, so a throughput number would be meaningless:\n  "
            + "\n  ".join(problems)
        )
    return answers


# --------------------------------------------------------------------------------------------
# Load generators
# --------------------------------------------------------------------------------------------


@dataclass
class LoadConfig:
    """The load applied identically to every server."""

    generator: str  # "wrk" or "asyncio"
    connections: int
    threads: int
    warmup_s: int
    duration_s: int
    timeout_s: float
    cpus: set[int] | None


def _run_wrk_once(
    wrk: str, url: str, bodies_file: Path, load: LoadConfig, duration_s: int
) -> dict[str, Any]:
    """One wrk run; returns the JSON printed by the script's ``done()`` hook."""
    argv = [
        wrk,
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{duration_s}s",
        f"--timeout={max(1, math.ceil(load.timeout_s))}s",
        "-s",
        str(WRK_SCRIPT),
        url,
        "--",
        str(bodies_file),
        API_KEY,
    ]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=duration_s + 60,
        preexec_fn=_pin_to(load.cpus),
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            return data
    raise BenchError(
        f"wrk failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    )


def run_wrk(spec: ServerSpec, bodies_file: Path, load: LoadConfig) -> LoadResult:
    """Warm up with wrk for ``warmup_s``, then measure for ``duration_s``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed (apt-get install -y wrk)")
    url = spec.base_url + CHAT_PATH
    warm: dict[str, Any] | None = None
    if load.warmup_s > 0:
        warm = _run_wrk_once(wrk, url, bodies_file, load, load.warmup_s)
    data = _run_wrk_once(wrk, url, bodies_file, load, load.duration_s)
    duration_s = max(data["duration_us"] / 1e6, 1e-9)
    socket_errors = int(
        data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"]
    )
    requests = int(data["requests"])
    return LoadResult(
        generator="wrk",
        requests=requests,
        duration_s=duration_s,
        rps=requests / duration_s,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        non2xx=int(data["status_errors"]),  # wrk counts statuses > 399 here
        socket_errors=socket_errors,
        warmup_requests=int(warm["requests"]) if warm else 0,
        warmup_non2xx=int(warm["status_errors"]) if warm else 0,
    )


def run_asyncio(spec: ServerSpec, bodies: list[str], load: LoadConfig, tmp: Path) -> LoadResult:
    """Run ``bench/loadgen.py`` in a separate process (warm-up and measurement in one go)."""
    spec_file = tmp / f"loadgen-{spec.name}.json"
    spec_file.write_text(
        json.dumps(
            {
                "host": spec.host,
                "port": spec.port,
                "path": CHAT_PATH,
                "api_key": API_KEY,
                "bodies": bodies,
                "connections": load.connections,
                "warmup_s": load.warmup_s,
                "duration_s": load.duration_s,
                "timeout_s": load.timeout_s,
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(LOADGEN), str(spec_file)],
        capture_output=True,
        text=True,
        timeout=load.warmup_s + load.duration_s + 60,
        preexec_fn=_pin_to(load.cpus),
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"asyncio load generator failed (exit {proc.returncode}):\n{proc.stderr}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return LoadResult(
        generator="asyncio",
        requests=int(data["requests"]),
        duration_s=float(data["duration_s"]),
        rps=float(data["rps"]),
        p50_ms=float(data["p50_ms"]),
        p90_ms=float(data["p90_ms"]),
        p99_ms=float(data["p99_ms"]),
        max_ms=float(data["max_ms"]),
        mean_ms=float(data["mean_ms"]),
        non2xx=int(data["non2xx"]),
        socket_errors=int(data["socket_errors"]),
        warmup_requests=int(data["warmup_requests"]),
        warmup_non2xx=int(data["warmup_non2xx"]),
    )


# --------------------------------------------------------------------------------------------
# Persistence check
# --------------------------------------------------------------------------------------------

_PERSISTED_TABLES = ("conversations", "messages", "message_traces")


def persisted_counts(data_dir: Path) -> dict[str, int] | None:
    """Row counts of the conversation/message/trace tables in kefu's SQLite database.

    Best effort: returns None when no database is found; tables that do not exist are omitted.
    """
    candidates = [data_dir / "kefu.db", *sorted(data_dir.rglob("*.db"))]
    db = next((p for p in candidates if p.is_file()), None)
    if db is None:
        return None
    counts: dict[str, int] = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        existing = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        for table in _PERSISTED_TABLES:
            if table in existing:
                counts[table] = int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
    finally:
        conn.close()
    return counts


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def echo_spec(host: str, access_log: bool) -> ServerSpec:
    """The echo app under plain ``python -m uvicorn``: one process, ``--loop``/``--http`` left on
    uvicorn's ``auto`` (uvloop + httptools when installed), exactly like ``kefu serve``."""
    port = free_port(host)
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(BENCH_DIR),
        "echo_app:app",
        "--host",
        host,
        "--port",
        str(port),
    ]
    if not access_log:
        argv.append("--no-access-log")
    return ServerSpec(name="echo", argv=argv, host=host, port=port)


def default_kefu_bin() -> str:
    """``kefu`` next to the running interpreter (the venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "kefu"
    if beside.exists():
        return str(beside)
    return shutil.which("kefu") or str(beside)


def kefu_spec(host: str, kefu_bin: str, data_dir: Path, route_cache: bool = True) -> ServerSpec:
    """``kefu serve --demo`` on a fresh data dir, the demo app keyed with the bench API key."""
    port = free_port(host)
    argv = [
        kefu_bin,
        "serve",
        "--demo",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    return ServerSpec(
        name="kefu",
        argv=argv,
        host=host,
        port=port,
        # A load generator is one key at full speed: no per-key limit (docs/security.md).
        env={
            "KEFU_DEMO_API_KEY": API_KEY,
            "KEFU_ROUTE_CACHE": "1" if route_cache else "0",
            "KEFU_KEY_RATE_PER_S": "0",
        },
        data_dir=data_dir,
    )


_ACCESS_LOG_MARK = f'"POST {CHAT_PATH} HTTP/1.1" 200'


def bench_server(
    spec: ServerSpec,
    load: LoadConfig,
    bodies: list[str],
    bodies_file: Path,
    tmp: Path,
    server_cpus: set[int] | None,
) -> ServerResult:
    """Start one server, pre-check it, load it, record memory, stop it."""
    err_console.print(f"[bold]{spec.name}[/]: starting:", escape(" ".join(spec.argv)))
    with ManagedServer(spec, tmp, server_cpus) as server:
        ready_s = server.wait_ready()
        err_console.print(f"[bold]{spec.name}[/]: ready in {ready_s:.1f} s (pid {server.pid})")
        answers = precheck(spec)
        err_console.print(f"[bold]{spec.name}[/]: pre-check OK ({len(answers)} queries)")
        memory_before = process_tree_memory(server.pid)
        cpu_before = process_cpu(server.pid)
        err_console.print(
            f"[bold]{spec.name}[/]: {load.generator}, {load.connections} connections, "
            f"{load.warmup_s} s warm-up + {load.duration_s} s measured ..."
        )
        if load.generator == "wrk":
            result = run_wrk(spec, bodies_file, load)
        else:
            result = run_asyncio(spec, bodies, load, tmp)
        memory_after = process_tree_memory(server.pid)
        cpu_after = process_cpu(server.pid)
        if server.proc is not None and server.proc.poll() is not None:
            raise BenchError(
                f"{spec.name} died during the run.\n--- server output ---\n{server.log_tail()}"
            )
        logs_requests = _ACCESS_LOG_MARK in server.log_text()
    # Count persisted rows only once the server is stopped: everything is flushed by then.
    persisted = persisted_counts(spec.data_dir) if spec.data_dir is not None else None
    cpu = cpu_after.since(cpu_before) if cpu_before and cpu_after else None
    per_request = cpu.per_request_ms(result.requests + result.warmup_requests) if cpu else None
    err_console.print(
        f"[bold]{spec.name}[/]: {result.rps:,.0f} req/s, P99 {result.p99_ms:.1f} ms, "
        f"{result.errors} errors, RSS {memory_after.rss_mb:.0f} MB"
        + (
            f", CPU {per_request['main']:.2f} ms main thread + {per_request['other']:.2f} ms "
            "other threads per request"
            if per_request
            else ""
        )
    )
    return ServerResult(
        name=spec.name,
        load=result,
        memory_before=memory_before,
        memory_after=memory_after,
        cpu=cpu,
        precheck_answers=answers,
        persisted=persisted,
        logs_requests=logs_requests,
    )


def evaluate(echo: ServerResult, kefu: ServerResult, precheck_count: int) -> list[Check]:
    """PASS/FAIL lines against the targets (plus: no errors, every answer persisted)."""
    ratio = kefu.load.rps / echo.load.rps if echo.load.rps > 0 else 0.0
    checks = [
        Check(
            "kefu/echo requests/s",
            ratio >= TARGET_RATIO,
            f"{ratio:.2f}",
            f">= {TARGET_RATIO:.2f}",
        ),
        Check(
            "kefu P99 latency",
            kefu.load.p99_ms <= TARGET_P99_MS,
            f"{kefu.load.p99_ms:.1f} ms",
            f"<= {TARGET_P99_MS:.0f} ms",
        ),
        Check(
            "kefu RSS after run",
            kefu.memory_after.rss_mb <= TARGET_RSS_MB,
            f"{kefu.memory_after.rss_mb:.0f} MB",
            f"<= {TARGET_RSS_MB:.0f} MB",
        ),
    ]
    for result in (echo, kefu):
        checks.append(
            Check(f"{result.name} errors", result.load.errors == 0, str(result.load.errors), "0")
        )
    if kefu.persisted is not None and "messages" in kefu.persisted:
        answered = (
            precheck_count
            + kefu.load.warmup_requests
            - kefu.load.warmup_non2xx
            + kefu.load.ok_requests
        )
        stored = kefu.persisted["messages"]
        checks.append(
            Check(
                "kefu messages persisted",
                stored >= answered,
                f"{stored:,} rows",
                f">= {answered:,} answered",
            )
        )
    return checks


def _json_safe(value: Any) -> Any:
    """``value`` with NaN floats (no samples) replaced by None, so the output is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _fmt_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def render(
    results: Sequence[ServerResult],
    checks: Sequence[Check],
    load: LoadConfig,
    notes: Sequence[str],
) -> None:
    """Print the result table, ratio and PASS/FAIL lines."""
    table = Table(
        title="kefu FAQ path vs bare FastAPI echo",
        caption=f"POST {CHAT_PATH}, {load.connections} connections, {load.duration_s} s measured",
    )
    table.add_column("server")
    table.add_column("generator")
    for column in ("req/s", "P50 ms", "P99 ms", "errors", "RSS MB", "peak MB"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.name,
            r.load.generator,
            f"{r.load.rps:,.0f}",
            _fmt_ms(r.load.p50_ms),
            _fmt_ms(r.load.p99_ms),
            str(r.load.errors),
            f"{r.memory_after.rss_mb:.0f}",
            f"{r.memory_after.peak_rss_mb:.0f}",
        )
    out_console.print(table)
    for r in results:
        if r.load.errors:
            out_console.print(
                f"{r.name} errors: {r.load.non2xx} non-2xx, {r.load.socket_errors} socket errors"
            )
    by_name = {r.name: r for r in results}
    if "echo" in by_name and "kefu" in by_name and by_name["echo"].load.rps > 0:
        ratio = by_name["kefu"].load.rps / by_name["echo"].load.rps
        out_console.print(f"ratio kefu/echo requests/s: [bold]{ratio:.2f}[/]")
    kefu = by_name.get("kefu")
    if kefu is not None and kefu.persisted is not None:
        stored = ", ".join(f"{k} {v:,}" for k, v in kefu.persisted.items()) or "no known tables"
        out_console.print(f"kefu rows persisted: {stored}")
    for check in checks:
        tag = "[bold green]PASS[/]" if check.ok else "[bold red]FAIL[/]"
        out_console.print(f"{tag}  {check.name}: {check.value} (target {check.target})")
    for note in notes:
        out_console.print(f"[dim]note: {note}[/]")


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so the servers are stopped by the ``with`` blocks."""
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    """A temporary directory for logs, bodies and kefu's data dir; kept on request."""
    path = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    try:
        yield path
    finally:
        if keep:
            err_console.print(f"kept logs and data in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Throughput of kefu's FAQ path (with persistence) vs a bare FastAPI echo app.",
    )
    parser.add_argument("--duration", type=int, default=10, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds (default 3)")
    parser.add_argument(
        "--connections", type=int, default=32, help="concurrent connections (default 32)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator: wrk when installed (auto), or the asyncio one in bench/loadgen.py",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object with all numbers"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--kefu-bin", default=None, help="kefu executable (default: the venv's)")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU 0 and the load generator to the other CPUs",
    )
    parser.add_argument(
        "--echo-access-log",
        action="store_true",
        help="keep uvicorn's access log on for the echo app (match kefu if kefu logs requests)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="echo/kefu rounds; the median is shown (default 3)"
    )
    parser.add_argument(
        "--no-route-cache",
        action="store_true",
        help="turn kefu's routing cache off (KEFU_ROUTE_CACHE=0): every request retrieves",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep server logs and kefu's data dir afterwards"
    )
    # Hidden: start the echo app in kefu's place, to dry-run the whole pipeline without kefu.
    parser.add_argument("--dry-run-echo-as-kefu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.rounds) < 1 or args.warmup < 0:
        parser.error("--duration/--connections/--threads/--rounds must be >= 1, --warmup >= 0")
    return args


def run(args: argparse.Namespace) -> int:
    """Run the whole benchmark; return the exit status."""
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "asyncio"
    elif generator == "wrk" and shutil.which("wrk") is None:
        raise BenchError("--generator wrk, but wrk is not installed (apt-get install -y wrk)")

    cpus = sorted(os.sched_getaffinity(0))
    server_cpus: set[int] | None = None
    generator_cpus: set[int] | None = None
    if args.pin:
        if len(cpus) < 2:
            raise BenchError("--pin needs at least 2 CPUs")
        server_cpus, generator_cpus = {cpus[0]}, set(cpus[1:])

    load = LoadConfig(
        generator=generator,
        connections=args.connections,
        threads=min(args.threads, args.connections),
        warmup_s=args.warmup,
        duration_s=args.duration,
        timeout_s=REQUEST_TIMEOUT_S,
        cpus=generator_cpus,
    )
    gen_desc = (
        f"wrk, {load.threads} threads" if generator == "wrk" else "asyncio (bench/loadgen.py)"
    )
    err_console.print(
        f"load generator: [bold]{gen_desc}[/], {load.connections} connections, "
        f"{load.warmup_s} s warm-up + {load.duration_s} s per server"
    )

    with _workdir(args.keep) as tmp:
        bodies = build_bodies()
        bodies_file = tmp / "bodies.jsonl"
        bodies_file.write_text("\n".join(bodies) + "\n", encoding="utf-8")

        echo = echo_spec(args.host, access_log=args.echo_access_log)
        kefu_bin = args.kefu_bin or default_kefu_bin()
        if not args.dry_run_echo_as_kefu and (
            not Path(kefu_bin).exists() and shutil.which(kefu_bin) is None
        ):
            raise BenchError(f"kefu executable not found: {kefu_bin} (run `make demo` once)")

        def kefu_for_round(number: int) -> ServerSpec:
            if args.dry_run_echo_as_kefu:
                spec = echo_spec(args.host, access_log=args.echo_access_log)
                spec.name = "kefu"
                return spec
            data_dir = tmp / f"kefu-data-{number}"
            data_dir.mkdir()
            return kefu_spec(args.host, kefu_bin, data_dir, not args.no_route_cache)

        # Sequential, echo first: only one server is alive during each measurement, so on a
        # small machine the two never compete for CPU or page cache, and each gets the whole
        # machine minus the (identical) load generator.  The cheap echo baseline goes first so a
        # kefu failure still leaves the baseline printed in the log; kefu's memory is read right
        # after its own run.  Several rounds alternate the two, because this machine's speed
        # drifts by ±20 % over minutes; the round with the median ratio is reported.
        rounds = [
            [
                bench_server(spec, load, bodies, bodies_file, tmp, server_cpus)
                for spec in (echo, kefu_for_round(number))
            ]
            for number in range(args.rounds)
        ]
        ratios = [k.load.rps / e.load.rps if e.load.rps else 0.0 for e, k in rounds]
        median = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
        results = rounds[median]

    echo_result, kefu_result = results
    checks = evaluate(echo_result, kefu_result, precheck_count=len(QUERIES))
    notes = [
        f"the load generator runs on the same {len(cpus)}-CPU machine as the server and competes "
        "with it for CPU; both servers get exactly the same load and treatment"
        + (" (server pinned to CPU 0, generator to the rest)." if args.pin else "."),
        "closed loop: each connection sends its next request when the previous answer arrives; "
        "every kefu request runs the full FAQ path and persists conversation, messages and trace.",
    ]
    if len(rounds) > 1:
        notes.append(
            f"{len(rounds)} rounds, echo and kefu alternating; kefu/echo ratios "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + f"; the median round ({median + 1}) is shown."
        )
    if args.dry_run_echo_as_kefu:
        notes.append("DRY RUN: the 'kefu' row is the echo app, not kefu.")
    if kefu_result.logs_requests and not echo_result.logs_requests:
        notes.append(
            "kefu writes an access-log line per request but the echo app does not; "
            "rerun with --echo-access-log for a like-for-like baseline."
        )

    passed = all(c.ok for c in checks)
    if args.json:
        ratio = kefu_result.load.rps / echo_result.load.rps if echo_result.load.rps else 0.0
        payload = {
            "generator": generator,
            "connections": load.connections,
            "threads": load.threads if generator == "wrk" else None,
            "warmup_s": load.warmup_s,
            "duration_s": load.duration_s,
            "cpus": len(cpus),
            "pinned": bool(args.pin),
            "dry_run": bool(args.dry_run_echo_as_kefu),
            "servers": {
                r.name: {
                    **asdict(r.load),
                    "errors": r.load.errors,
                    "rss_mb_before": r.memory_before.rss_mb,
                    "rss_mb_after": r.memory_after.rss_mb,
                    "peak_rss_mb": r.memory_after.peak_rss_mb,
                    "processes": r.memory_after.processes,
                    "persisted": r.persisted,
                    "logs_requests": r.logs_requests,
                }
                for r in results
            },
            "ratio": ratio,
            "round_ratios": ratios,
            "checks": [asdict(c) for c in checks],
            "pass": passed,
        }
        print(json.dumps(_json_safe(payload), ensure_ascii=False, indent=2, allow_nan=False))
    else:
        render(results, checks, load, notes)
    return EXIT_OK if passed else EXIT_TARGET_MISSED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        return run(args)
    except BenchError as exc:
        err_console.print("[bold red]benchmark aborted:[/]", escape(str(exc)), highlight=False)
        return EXIT_SETUP_FAILED
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted; servers stopped[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
