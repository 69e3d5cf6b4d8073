"""Start the real demo shop (``kefu-demo-shop serve``) on a free loopback port for tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port, spawn_until_healthy, stop_server

__all__ = ["running_demo_shop"]


@contextmanager
def running_demo_shop(
    data_dir: Path,
    *,
    token: str | None = None,
    faults: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``kefu-demo-shop serve`` over ``data_dir`` for the ``with`` block; yields its base URL.

    ``token`` sets ``KEFU_DEMO_SHOP_TOKEN`` (bearer auth), ``faults`` enables ``/_faults``.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    child_env = {**os.environ, **(env or {})}
    child_env.pop("KEFU_DEMO_SHOP_TOKEN", None)
    if token:
        child_env["KEFU_DEMO_SHOP_TOKEN"] = token
    command = [sys.executable, "-m", "kefu_demo_shop", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), *(["--faults"] if faults else [])]
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"demo-shop-{port}.log"
    process = spawn_until_healthy(command, child_env, log_path, f"{base_url}/health")
    try:
        yield base_url
    finally:
        stop_server(process)
