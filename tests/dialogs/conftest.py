"""The demo shop as a real server for the dialog tests; the demo app's tools point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kefu_demo_shop import ShopConfigError, find_source
from tests.demo_shop.server import running_demo_shop


@pytest.fixture(scope="session")
def shop_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        find_source()
    except ShopConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent (shared/data/tau2_retail/db.json): {exc}")
    data_dir: Path = tmp_path_factory.mktemp("dialog-shop")
    with running_demo_shop(data_dir, faults=True) as url:
        yield url


@pytest.fixture
def shop(shop_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo app's HTTP tools read KEFU_DEMO_SHOP_URL at each call."""
    monkeypatch.setenv("KEFU_DEMO_SHOP_URL", shop_url)
    return shop_url
