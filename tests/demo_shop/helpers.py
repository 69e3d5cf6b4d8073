"""The shop in process over a fixed "today", so that 上个月 is 2026-10 in every assertion."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx

from kefu_demo_shop import create_shop_app

__all__ = ["TODAY", "shop_client"]

TODAY = date(2026, 11, 21)


def shop_client(
    db_path: Path, *, token: str | None = None, faults: bool = False
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` talking to the shop app in process."""
    app = create_shop_app(db_path, token=token, faults=faults, clock=lambda: TODAY)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://shop.test")
