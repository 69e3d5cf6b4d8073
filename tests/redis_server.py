"""A real ``redis-server`` (Debian's package; ``make test`` installs it) on a free loopback
port, in a temp dir, without persistence, for the shared-state tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.servers import die_with_parent, free_port

REDIS_SERVER = shutil.which("redis-server")


@contextmanager
def running_redis(directory: Path) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a fresh server, stopped when the block ends."""
    assert REDIS_SERVER is not None
    port = free_port()
    log_path = directory / "redis.log"
    command = [
        REDIS_SERVER,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(log_path),
    ]  # fmt: skip
    process = subprocess.Popen(command, preexec_fn=die_with_parent)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = log_path.read_text() if log_path.exists() else ""
                    raise AssertionError(f"redis-server did not start: {log}") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
