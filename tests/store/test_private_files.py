"""The SQLite store is its owner's only: the database (and so its WAL) is created 0600, a
new data dir 0700, and the WAL does not keep its peak size after a checkpoint."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from kefu.services.runtime import Runtime
from kefu.store import Store
from kefu.store.db import WAL_SIZE_LIMIT
from tests.conftest import make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_data_dir_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = Runtime.build(make_settings(data_dir), [], demo=True)
    try:
        assert mode(data_dir) == 0o700
        db = data_dir / "kefu.db"
        assert db.exists() and mode(db) == 0o600
        wal = data_dir / "kefu.db-wal"
        assert not wal.exists() or mode(wal) == 0o600
    finally:
        runtime.close()


def test_an_existing_readable_database_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    store = Store.open(f"sqlite:///{db}")
    try:
        assert mode(db) == 0o600
        with store.engine.connect() as connection:
            limit = connection.exec_driver_sql("PRAGMA journal_size_limit").scalar()
            assert limit == WAL_SIZE_LIMIT
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        store.close()
