"""A SQLite database goes to WAL mode even when another connection holds it at that moment
(replicas starting together on a fresh file: SQLite does not wait for a journal-mode change
on its busy timeout, it says "database is locked" at once)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from kefu.store.db import _use_wal


def test_wal_mode_waits_for_a_connection_that_holds_the_database(tmp_path: Path) -> None:
    path = tmp_path / "kefu.db"
    holder = sqlite3.connect(path, timeout=5, check_same_thread=False, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    # Another replica migrating the fresh file: it holds the write (RESERVED) lock, so the
    # starting one, which reads the header first, cannot get the file to itself.
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.5, holder.execute, ("COMMIT",)).start()
    starting = sqlite3.connect(path, timeout=5, isolation_level=None)
    _use_wal(starting.cursor(), wait_s=10)
    assert starting.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    starting.close()
    holder.close()
