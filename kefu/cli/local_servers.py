"""Servers ``kefu eval agent`` starts for itself: kefu on a free port in a thread, and the
demo shop (with ``--bench``) as a child process. Both listen on loopback only."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from kefu.api.app import create_app
from kefu.cli.demo_shop import NOT_INSTALLED
from kefu.core.errors import ConfigError
from kefu.services.runtime import Runtime

__all__ = ["free_port", "kefu_in_thread", "shop_process"]

START_TIMEOUT_S = 60
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """``preexec_fn``: the kernel stops the shop when this process dies, however it dies, so
    a killed benchmark leaves no shop holding a port (Linux; elsewhere a no-op)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def kefu_in_thread(runtime: Runtime) -> Iterator[str]:
    """A real kefu HTTP server over ``runtime`` for the ``with`` block; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="kefu-eval-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"kefu did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def shop_process(data_dir: Path, source: Path | None = None) -> Iterator[str]:
    """``kefu-demo-shop serve --bench`` over ``data_dir`` on a free port; yields its URL."""
    try:
        import kefu_demo_shop  # noqa: F401  (only to say how to install it when it is missing)
    except ModuleNotFoundError:
        raise ConfigError(NOT_INSTALLED, key="--shop") from None
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "kefu_demo_shop", "serve", "--bench", "--port", str(port)]
    command += ["--data-dir", str(data_dir)]
    if source is not None:
        command += ["--source", str(source)]
    log_path = data_dir / "demo-shop.log"
    env = {k: v for k, v in os.environ.items() if k != "KEFU_DEMO_SHOP_TOKEN"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=log, env=env, preexec_fn=_die_with_parent
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise ConfigError(f"the demo shop exited: {' '.join(tail)}", key="--shop")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ConfigError("the demo shop did not start in 60 s", key="--shop")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
