"""Database engine and migrations. SQLite (WAL) by default; any SQLAlchemy URL works."""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError

from kefu.core.errors import StorageError

__all__ = ["Checkpointer", "as_utc", "create_db_engine", "run_migrations"]

_MIGRATIONS = Path(__file__).parent / "migrations"
WAL_SIZE_LIMIT = 64 * 1024 * 1024


def _private_file(database: str | None) -> None:
    """The SQLite file holds every conversation: only its owner may read it (0600). SQLite
    gives the -wal and -shm files the database file's permissions."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        if path.stat().st_mode & 0o077:
            logging.getLogger(__name__).warning(
                "%s was readable by others; it is now its owner's only (0600)", path
            )
            path.chmod(0o600)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_db_engine(url: str) -> Engine:
    """An engine with the pragmas kefu relies on for SQLite: WAL, foreign keys, busy wait."""
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Checkpoints run on a background thread (``Checkpointer``), not inside the
            # commit of whichever request happens to cross the WAL size limit.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            # Once checkpointed, the WAL shrinks back to this instead of keeping its peak
            # size (a burst of uploads left 405 MB behind).
            cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cursor.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, json_serializer=_json_dumps, json_deserializer=orjson.loads
    )


def _json_dumps(value: Any) -> str:
    """JSON columns hold traces and sources on the hot path: orjson is ~10x the stdlib."""
    return orjson.dumps(value).decode()


class Checkpointer:
    """Copies SQLite's write-ahead log back into the database every few seconds.

    With automatic checkpoints, the commit that crosses the WAL limit pays for copying
    and syncing megabytes, and every request in that group commit waits for it.
    A PASSIVE checkpoint on its own thread never blocks writers.
    """

    def __init__(self, engine: Engine, interval_s: float = 1.0) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kefu-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.checkpoint("PASSIVE")

    def checkpoint(self, mode: str) -> None:
        try:
            with self._engine.connect() as connection:
                connection.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")
        except SQLAlchemyError as exc:
            logging.getLogger(__name__).warning("WAL checkpoint failed: %s", exc)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.checkpoint("TRUNCATE")


def run_migrations(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run at every start)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # Alembic configures logging from an ini file only when one is given; keep it quiet.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"database migration failed: {exc}") from exc
