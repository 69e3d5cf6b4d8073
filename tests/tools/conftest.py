"""A real HTTP order service on a loopback port, and a real installed entry-point distribution."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port
from tests.tools.order_service import ENTRY_POINTS, SAMPLE_MODULE, Shop, ShopServer


@pytest.fixture(scope="session")
def shop_server() -> Iterator[ShopServer]:
    server = ShopServer(free_port())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def shop(shop_server: ShopServer) -> Shop:
    """The order service, with this test's requests only."""
    shop_server.shop.hits.clear()
    return shop_server.shop


@pytest.fixture(scope="session")
def sample_tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tiny distribution on sys.path that importlib.metadata discovers like an installed one."""
    root = tmp_path_factory.mktemp("site")
    (root / "kefu_sample_tools.py").write_text(SAMPLE_MODULE, encoding="utf-8")
    info = root / "kefu_sample_tools-0.1.dist-info"
    info.mkdir()
    metadata = "Metadata-Version: 2.1\nName: kefu-sample-tools\nVersion: 0.1\n"
    (info / "METADATA").write_text(metadata, encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(root))
        yield root
    sys.modules.pop("kefu_sample_tools", None)
