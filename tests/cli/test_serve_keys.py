"""`kefu serve --demo` ends its start-up with the keys a newcomer needs, and keeps them."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, spawn_until_healthy, stop_server

pytestmark = pytest.mark.integration


def _serve_once(data_dir: Path, log: Path) -> tuple[str, str, list[str]]:
    """Start, read the last lines of the log, check both keys work, stop."""
    env = {k: v for k, v in os.environ.items() if k not in {"KEFU_ADMIN_KEY", "KEFU_DEMO_API_KEY"}}
    # What a newcomer's terminal shows (plain); into a file or a pipe kefu logs JSON lines.
    env["KEFU_LOG_FORMAT"] = "plain"
    port = free_port()
    command = [sys.executable, "-m", "kefu.cli.main", "serve", "--demo", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    process = spawn_until_healthy(
        [*command, "--data-dir", str(data_dir)], env, log, f"{base}/health"
    )
    try:
        deadline = time.monotonic() + 10
        while "admin key:" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        app_key = lines[-2].split(": ", 1)[1].split()[0]
        admin_key = lines[-1].split(": ", 1)[1].split()[0]
        admin = httpx.get(f"{base}/admin/apps", headers={"Authorization": f"Bearer {admin_key}"})
        assert admin.status_code == 200, admin.text
        params = httpx.get(f"{base}/v1/parameters", headers={"Authorization": f"Bearer {app_key}"})
        assert params.status_code == 200, params.text
    finally:
        stop_server(process)
    return app_key, admin_key, lines


def test_keys_are_the_last_lines_and_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app_key, admin_key, lines = _serve_once(data_dir, tmp_path / "first.log")
    assert lines[-3].startswith("kefu serving demo-shop at http://127.0.0.1:")
    assert lines[-2].startswith("API key of app 'demo-shop': app-")
    assert lines[-1].startswith("admin key: admin-")
    assert "Uvicorn running on" in "\n".join(lines[:-3])  # the keys come after uvicorn's lines
    for name in ("admin.key", "demo-app.key"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600
    again = _serve_once(data_dir, tmp_path / "second.log")
    assert again[:2] == (app_key, admin_key)
