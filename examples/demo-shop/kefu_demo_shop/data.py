"""Find τ²-bench retail's db.json and load it, with mobile numbers, into the shop's SQLite.

The load runs once per data dir: a later start reuses ``demo_shop.sqlite3`` (and the
orders cancelled or returned in it) unless asked to reset. The file is built under a
temporary name and renamed, so an interrupted load never leaves half a shop behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kefu_demo_shop.errors import ShopConfigError
from kefu_demo_shop.seed_extra import assign_phones

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "SOURCE_ENV", "ensure_database", "find_source"]

DB_FILENAME = "demo_shop.sqlite3"
SOURCE_ENV = "KEFU_DEMO_SHOP_SOURCE"
SOURCE_RELATIVE = Path("shared/data/tau2_retail/db.json")
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    zip TEXT NOT NULL,
    address TEXT NOT NULL,
    payment_methods TEXT NOT NULL
);
CREATE INDEX users_email ON users (email COLLATE NOCASE);
CREATE INDEX users_name_zip ON users (last_name COLLATE NOCASE, first_name COLLATE NOCASE, zip);
CREATE TABLE orders (
    order_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    address TEXT NOT NULL,
    items TEXT NOT NULL,
    fulfillments TEXT NOT NULL,
    payment_history TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX orders_user ON orders (user_id, position);
CREATE TABLE products (product_id TEXT PRIMARY KEY, name TEXT NOT NULL, variants TEXT NOT NULL);
"""


def find_source(
    explicit: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    starts: tuple[Path, ...] | None = None,
) -> Path:
    """The db.json to load: ``explicit``, else ``$KEFU_DEMO_SHOP_SOURCE``, else the first
    ``shared/data/tau2_retail/db.json`` found walking up from the cwd or this package."""
    key = "--source"
    if explicit is None and environ.get(SOURCE_ENV):
        explicit, key = Path(environ[SOURCE_ENV]), SOURCE_ENV
    if explicit is not None:
        if not explicit.is_file():
            raise ShopConfigError(f"demo shop source {explicit} does not exist", key=key)
        return explicit
    for start in starts or (Path.cwd(), Path(__file__).parent):
        for folder in (start.resolve(), *start.resolve().parents):
            candidate = folder / SOURCE_RELATIVE
            if candidate.is_file():
                return candidate
    raise ShopConfigError(
        f"τ²-bench retail data not found: no {SOURCE_RELATIVE} above the current directory; "
        f"pass --source PATH/db.json or set {SOURCE_ENV}"
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _read_source(source: Path) -> dict[str, Any]:
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShopConfigError(f"cannot read demo shop source: {exc}", file=str(source)) from exc
    if not isinstance(raw, dict) or not {"users", "orders", "products"} <= raw.keys():
        raise ShopConfigError(
            "expected an object with users, orders and products", file=str(source)
        )
    return raw


def _fill(conn: sqlite3.Connection, raw: dict[str, Any], source: Path) -> None:
    conn.executescript(_SCHEMA)
    users = raw["users"]
    phones = assign_phones(users)
    conn.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                uid,
                user["name"]["first_name"],
                user["name"]["last_name"],
                user["email"],
                phones[uid],
                user["address"]["zip"],
                _json(user["address"]),
                _json(user["payment_methods"]),
            )
            for uid, user in users.items()
        ],
    )
    # An order's position in its user's list keeps τ²'s order of a user's orders.
    positions = {oid: i for user in users.values() for i, oid in enumerate(user["orders"])}
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')",
        [
            (
                oid,
                order["user_id"],
                positions.get(oid, 0),
                order["status"],
                _json(order["address"]),
                _json(order["items"]),
                _json(order["fulfillments"]),
                _json(order["payment_history"]),
            )
            for oid, order in raw["orders"].items()
        ],
    )
    conn.executemany(
        "INSERT INTO products VALUES (?, ?, ?)",
        [(pid, p["name"], _json(p["variants"])) for pid, p in raw["products"].items()],
    )
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("schema_version", SCHEMA_VERSION), ("source", str(source.resolve()))],
    )


def _schema_version(db_path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        conn.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def _remove(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def ensure_database(db_path: Path, source: Path | None = None, *, reset: bool = False) -> bool:
    """Make ``db_path`` hold the shop; True when it was (re)loaded from the source now.

    ``source`` is only looked for when a load is needed (see ``find_source``).
    """
    if not reset and db_path.is_file() and _schema_version(db_path) == SCHEMA_VERSION:
        return False
    path = find_source(source)
    raw = _read_source(path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    staging = db_path.with_name(f"{db_path.name}.loading")
    _remove(staging)
    conn = sqlite3.connect(staging)
    try:
        with conn:
            _fill(conn, raw, path)
    except (KeyError, TypeError, sqlite3.Error) as exc:
        raise ShopConfigError(f"unexpected demo shop source data: {exc!r}", file=str(path)) from exc
    finally:
        conn.close()
    _remove(db_path)
    staging.replace(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    return True
