"""``kefu test --url``: the demo's conversation tests against a real ``kefu serve --demo``
and a real demo shop, reading route, flow, slots and tool calls through the admin API's
trace; the cancel tests reset the shop first, so a second run passes too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli.main import app as kefu_app
from kefu_demo_shop import ShopConfigError, find_source
from tests.demo_shop.server import running_demo_shop
from tests.servers import KEY, running_server

pytestmark = pytest.mark.integration

DEMO_TESTS = Path(__file__).parents[2] / "apps" / "demo-shop" / "tests"
ADMIN_KEY = "admin-real"  # what tests.servers gives the server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        find_source()
    except ShopConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent (shared/data/tau2_retail/db.json): {exc}")
    folder = tmp_path_factory.mktemp("kefu-test-server")
    with pytest.MonkeyPatch.context() as env:
        with running_demo_shop(folder / "shop", faults=True) as shop:
            env.setenv("KEFU_DEMO_SHOP_URL", shop)  # the server's tools and the tests' steps
            with running_server(folder / "data") as url:
                yield url


def test_the_demo_suite_passes_against_a_running_server(server: str, tmp_path: Path) -> None:
    files = [str(DEMO_TESTS / name) for name in ("cancel_order.yaml", "digressions.yaml")]
    command = ["test", *files, "--url", server, "--key", KEY, "--admin-key", ADMIN_KEY]
    for _ in range(2):  # the second run cancels the same orders again: the reset step works
        result = CliRunner().invoke(kefu_app, command)
        assert result.exit_code == 0, result.output
        assert "15 passed 通过, 0 failed" in result.stdout


def test_without_the_admin_key_trace_expectations_fail_with_a_hint(server: str) -> None:
    file = str(DEMO_TESTS / "order_status.yaml")
    result = CliRunner().invoke(
        kefu_app,
        ["test", file, "--url", server, "--key", KEY, "-k", "unknown order"],
        env={"KEFU_ADMIN_KEY": ""},
    )
    assert result.exit_code == 1
    squeezed = re.sub(r"[\s│]+", "", result.stdout)  # the note wraps inside the table
    assert "thetraceisneeded:givetheadminkey(--admin-key" in squeezed
    assert "0 passed 通过, 2 failed" in result.stdout


def test_a_wrong_key_is_reported_as_the_api_answered(server: str) -> None:
    file = str(DEMO_TESTS / "safety.yaml")
    result = CliRunner().invoke(kefu_app, ["test", file, "--url", server, "--key", "app-wrong"])
    assert result.exit_code == 1
    assert "401" in result.stdout
