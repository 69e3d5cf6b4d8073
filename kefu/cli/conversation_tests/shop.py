"""The bundled demo shop for an in-process test run: its own data in the run's temp dir,
fault injection and reset on, served by uvicorn in a thread on a free loopback port.

The shop is its own project (``examples/demo-shop``); kefu imports it only here and in
``kefu demo-shop``, and only when asked to. A thread rather than a child process: the shop
is small and starts in about a second less, and it cannot outlive the run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kefu.cli.demo_shop import NOT_INSTALLED
from kefu.core.errors import ConfigError

__all__ = ["SHOP_URL_ENV", "running_demo_shop"]

SHOP_URL_ENV = "KEFU_DEMO_SHOP_URL"  # what the demo app's tools and the tests' steps read
START_TIMEOUT_S = 30.0


@contextmanager
def running_demo_shop(data_dir: Path) -> Iterator[str]:
    """Serve the demo shop for the ``with`` block and point ``KEFU_DEMO_SHOP_URL`` at it."""
    import uvicorn

    try:
        from kefu_demo_shop.app import create_shop_app
        from kefu_demo_shop.data import ensure_database
        from kefu_demo_shop.errors import ShopConfigError
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "kefu_demo_shop":
            raise
        raise ConfigError(f"{NOT_INSTALLED} (or run with --no-demo-shop)") from None
    db_path = data_dir / "demo_shop.sqlite3"
    try:
        ensure_database(db_path)
        app = create_shop_app(db_path, faults=True)
    except ShopConfigError as exc:
        raise ConfigError(f"the demo shop cannot start: {exc.message}") from None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, log_config=None)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise ConfigError("the demo shop did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    before = os.environ.get(SHOP_URL_ENV)
    os.environ[SHOP_URL_ENV] = url
    try:
        yield url
    finally:
        if before is None:
            os.environ.pop(SHOP_URL_ENV, None)
        else:
            os.environ[SHOP_URL_ENV] = before
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
