"""Replicas started together on one database: each migrates and registers its apps and keys,
none fails on another's half-done work (PostgreSQL advisory locks; SQLite's own locking)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from kefu.store import Store

REPLICAS = 4


def start_replica(url: str, ready: threading.Barrier) -> tuple[str, int]:
    ready.wait(timeout=30)  # all at once: migrations and first writes overlap
    store = Store.open(url)
    try:
        with store.startup():
            app = store.apps.upsert_app("shop", {"name": "shop"})
            store.apps.ensure_key(app.id, "app", "app-shared-key-of-every-replica")
        return app.id, len(store.apps.list_keys(app.id))
    finally:
        store.close()


@pytest.mark.timeout(60)
def test_replicas_starting_together_share_one_schema_app_and_key(db_url: str) -> None:
    ready = threading.Barrier(REPLICAS)
    with ThreadPoolExecutor(REPLICAS) as pool:
        started = list(pool.map(lambda _: start_replica(db_url, ready), range(REPLICAS)))
    assert {app_id for app_id, _ in started} == {started[0][0]}  # one app, one id
    assert started[-1][1] == 1  # one key
