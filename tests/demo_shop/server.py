"""Start the real demo shop (``kefu demo-shop serve``) on a free loopback port for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["running_demo_shop"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"demo shop exited: {log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("demo shop did not become ready in 60 s")


@contextmanager
def running_demo_shop(
    data_dir: Path,
    *,
    token: str | None = None,
    faults: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``kefu demo-shop serve`` over ``data_dir`` for the ``with`` block; yields its base URL.

    ``token`` sets ``KEFU_DEMO_SHOP_TOKEN`` (bearer auth), ``faults`` enables ``/_faults``.
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    child_env = {**os.environ, **(env or {})}
    child_env.pop("KEFU_DEMO_SHOP_TOKEN", None)
    if token:
        child_env["KEFU_DEMO_SHOP_TOKEN"] = token
    command = [sys.executable, "-m", "kefu.cli.demo_shop", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), *(["--faults"] if faults else [])]
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"demo-shop-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=child_env, stdout=log, stderr=log)
    try:
        _wait_ready(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
