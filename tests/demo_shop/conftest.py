"""The demo shop loaded once per session from τ²-bench's db.json; a fresh copy per test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kefu_demo_shop import DB_FILENAME, ShopConfigError, ensure_database, find_source
from tests.demo_shop.helpers import shop_client


@pytest.fixture(scope="session")
def source() -> Path:
    try:
        return find_source()
    except ShopConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent (shared/data/tau2_retail/db.json): {exc}")


@pytest.fixture(scope="session")
def loaded_db(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db_path = tmp_path_factory.mktemp("shop-template") / DB_FILENAME
    ensure_database(db_path, source)
    return db_path


@pytest.fixture
def shop_db(loaded_db: Path, tmp_path: Path) -> Path:
    """A private copy, so cancels and returns in one test never leak into another."""
    db_path = tmp_path / "data" / DB_FILENAME
    db_path.parent.mkdir()
    shutil.copyfile(loaded_db, db_path)
    return db_path


@pytest.fixture
async def shop(shop_db: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with shop_client(shop_db) as client:
        yield client
