"""Benchmark support: reset the shop to its source data and fingerprint its state.

``kefu eval agent`` grades an episode as τ²-bench does: the shop's final data must equal the
data that the task's gold actions give on a fresh shop. ``POST /_bench/reset`` reloads the
source; ``GET /_bench/state`` answers a SHA-256 of every user, order and product (their JSON
columns parsed, so the spelling of the JSON never matters) and of the whole shop, so the
grader can say *which* rows differ. Both are served only with ``--bench`` (or
``KEFU_DEMO_SHOP_BENCH=1``): a reset throws away every cancel, return and exchange.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from kefu_demo_shop.data import ensure_database

__all__ = ["bench_router", "state_fingerprint"]

_TABLES = {"users": "user_id", "orders": "order_id", "products": "product_id"}
_JSON_COLUMNS = {
    "address",
    "payment_methods",
    "items",
    "fulfillments",
    "payment_history",
    "details",
    "variants",
}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def state_fingerprint(db_path: Path) -> dict[str, Any]:
    """``{"hash": …, "rows": {"orders/#W1": …, …}}`` over users, orders and products."""
    rows: dict[str, str] = {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        for table, key in _TABLES.items():
            for row in conn.execute(f"SELECT * FROM {table}"):  # table names are constants
                record = {
                    column: json.loads(row[column]) if column in _JSON_COLUMNS else row[column]
                    for column in row.keys()
                }
                rows[f"{table}/{row[key]}"] = _digest(record)
    finally:
        conn.close()
    return {"hash": _digest(sorted(rows.items())), "rows": rows}


def bench_router(db_path: Path, source: Path | None) -> APIRouter:
    """``POST /_bench/reset`` and ``GET /_bench/state``."""
    router = APIRouter(prefix="/_bench", tags=["bench"])

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        ensure_database(db_path, source, reset=True)
        return {"reset": True, "hash": state_fingerprint(db_path)["hash"]}

    @router.get("/state")
    def state() -> dict[str, Any]:
        return state_fingerprint(db_path)

    return router
