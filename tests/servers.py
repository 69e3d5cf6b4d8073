"""Start real kefu servers (``kefu serve --demo``) on free loopback ports for tests."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

KEY = "app-real-server-key"
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """``preexec_fn`` for test servers: the kernel stops the child when pytest dies, so a
    crashed or killed run leaves no orphaned server holding a port (Linux; else no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn_until_healthy(
    command: list[str], env: dict[str, str], log_path: Path, health_url: str
) -> subprocess.Popen[bytes]:
    """Start ``command`` (output to ``log_path``) and wait until ``health_url`` answers 200;
    the log is in the error when it exits or does not become ready in 60 s."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=log, preexec_fn=die_with_parent
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{command[2]} exited: {log_path.read_text(errors='replace')}")
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError(f"{command[2]} did not become ready in 60 s")


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KEFU_DEMO_API_KEY": KEY, "KEFU_ADMIN_KEY": "admin-real"}
    command = [sys.executable, "-m", "kefu.cli.main", "serve", "--demo", "--port", str(port)]
    return spawn_until_healthy(
        [*command, "--data-dir", str(data_dir)],
        env,
        data_dir.parent / f"server-{port}.log",
        f"http://127.0.0.1:{port}/health",
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(data_dir: Path) -> Iterator[str]:
    """``kefu serve --demo`` over ``data_dir`` on a free port, for the ``with`` block."""
    port = free_port()
    process = start_server(data_dir, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


@contextmanager
def serving_in_thread(app: Any, path: str = "") -> Iterator[str]:
    """An ASGI ``app`` on uvicorn in a thread, on a free loopback port, for the ``with``
    block; yields its base URL (plus ``path``)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    with serving_config_in_thread(config):
        yield f"http://127.0.0.1:{port}{path}"


@contextmanager
def serving_config_in_thread(config: uvicorn.Config) -> Iterator[uvicorn.Server]:
    """uvicorn serving ``config`` in a thread, started, for the ``with`` block."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@asynccontextmanager
async def in_process_client(
    runtime: Any, key: str | None = None, *, raise_app_exceptions: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """kefu's API over ``runtime`` in this process (no socket), as ``http://kefu.test``;
    with ``key`` every request carries it. The runtime stays open for the caller."""
    from kefu.api.app import create_app

    transport = httpx.ASGITransport(
        app=create_app(runtime, close_runtime=False), raise_app_exceptions=raise_app_exceptions
    )
    headers = {"Authorization": f"Bearer {key}"} if key else None
    async with httpx.AsyncClient(
        transport=transport, base_url="http://kefu.test", headers=headers
    ) as client:
        yield client
