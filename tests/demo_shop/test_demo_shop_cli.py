"""``kefu-demo-shop serve`` as a user runs it, and the real server over HTTP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from kefu_demo_shop.cli import shop_app
from tests.demo_shop.server import running_demo_shop

runner = CliRunner()


def test_missing_source_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(
        shop_app,
        ["serve", "--data-dir", str(tmp_path)],
        env={"KEFU_DEMO_SHOP_SOURCE": str(tmp_path / "missing.json")},
    )
    assert result.exit_code == 2
    assert "missing.json does not exist" in result.output
    assert "Traceback" not in result.output


@pytest.mark.integration
def test_real_server_serves_persists_and_injects_faults(source: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "shop"
    auth = {"Authorization": "Bearer tok-1"}
    with running_demo_shop(data_dir, token="tok-1", faults=True) as base:
        assert httpx.get(f"{base}/users/liam_li_8526").status_code == 401
        cancelled = httpx.post(
            f"{base}/orders/%23W6247578/cancel", json={"reason": "no longer needed"}, headers=auth
        )
        assert cancelled.json()["status"] == "cancelled"

        fault = {"status": 503, "paths": ["/orders"]}
        assert httpx.post(f"{base}/_faults", json=fault, headers=auth).status_code == 200
        failed = httpx.get(f"{base}/orders/W2378156", headers=auth)
        assert failed.status_code == 503 and failed.json()["code"] == "injected_fault"
        assert httpx.get(f"{base}/users/liam_li_8526", headers=auth).status_code == 200

        httpx.post(f"{base}/_faults", json={"delay_ms": 1500, "paths": ["/users"]}, headers=auth)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{base}/users/liam_li_8526", headers=auth, timeout=0.5)
        started = time.perf_counter()
        assert httpx.get(f"{base}/orders/W2378156", headers=auth).status_code == 200
        assert time.perf_counter() - started < 1.0
        assert httpx.delete(f"{base}/_faults", headers=auth).status_code == 200

    # A restart reuses the SQLite file: the cancel is still there.
    with running_demo_shop(data_dir) as base:
        assert httpx.get(f"{base}/orders/W6247578").json()["status"] == "cancelled"
        assert httpx.post(f"{base}/_faults", json={"status": 503}).status_code == 404
