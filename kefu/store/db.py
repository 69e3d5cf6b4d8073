"""Database engine and migrations: SQLite (WAL) by default, PostgreSQL through psycopg 3
(the ``postgres`` extra) at scale."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from kefu.core.errors import ConfigError, StorageError

__all__ = [
    "Checkpointer",
    "as_utc",
    "create_db_engine",
    "database_url",
    "exclusive_startup",
    "once_more_on_conflict",
    "run_migrations",
]

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


_SETTING = "KEFU_DATABASE_URL"
_POSTGRES_EXTRA = "pip install 'kefu[postgres]'"
# Drivers kefu is tested with, by dialect; a URL without a driver gets this one (SQLAlchemy
# would pick psycopg2 for ``postgresql://``, which kefu does not declare).
_DRIVERS = {"postgresql": "psycopg"}


def database_url(url: str) -> URL:
    """``url`` parsed, with kefu's driver for a bare ``postgresql://`` (or ``postgres://``);
    a malformed URL or an unknown database is a :class:`ConfigError` naming the setting."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL ({exc})", key=_SETTING) from None
    backend = "postgresql" if parsed.get_backend_name() == "postgres" else parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {backend!r}: use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
            key=_SETTING,
        )
    driver = parsed.get_driver_name() if "+" in parsed.drivername else _DRIVERS.get(backend)
    return parsed.set(drivername=f"{backend}+{driver}" if driver else backend)


def _missing_driver(url: URL) -> ConfigError:
    if url.get_backend_name() == "postgresql":
        hint = (
            f"{_POSTGRES_EXTRA} (psycopg 3) and use postgresql:// or postgresql+psycopg://"
            if url.get_driver_name() != "psycopg"
            else _POSTGRES_EXTRA
        )
    else:
        hint = "install it, or use the bundled sqlite"
    return ConfigError(
        f"the database driver {url.get_driver_name()!r} is not installed: {hint}", key=_SETTING
    )


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``: for SQLite the pragmas kefu relies on (WAL, foreign keys, busy
    wait); for PostgreSQL psycopg 3, UTC sessions and a connection check before use."""
    parsed = database_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed)
        # Timestamps are stored with their zone; UTC sessions hand them back in UTC whatever
        # the server's TimeZone is (added to any ``?options=`` the URL gives).
        given = parsed.query.get("options")
        options = f"{given} -c timezone=UTC" if isinstance(given, str) else "-c timezone=UTC"
        engine = create_engine(
            parsed.difference_update_query(["options"]),
            pool_pre_ping=True,
            connect_args={"options": options},
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
    except (ModuleNotFoundError, NoSuchModuleError):
        raise _missing_driver(parsed) from None
    event.listen(engine, "before_cursor_execute", _without_nul, retval=True)
    return engine


def _without_nul(
    _connection: Any,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    _executemany: bool,
) -> tuple[str, Any]:
    """PostgreSQL text cannot hold NUL (psycopg refuses the whole statement), SQLite's can: a
    NUL that got this far (an uploaded file, an imported FAQ) is dropped, not a failed write.
    JSON values are already text with NUL escaped, so only raw strings are touched."""
    return statement, _scrub(parameters)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def _sqlite_engine(url: URL) -> Engine:
    if url.database:
        _private_file(url.database)
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
        _use_wal(cursor)
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


def _use_wal(cursor: sqlite3.Cursor, wait_s: float = 30.0) -> None:
    """Put the database in WAL mode (it stays so: later connections find it set).

    Changing the journal mode needs the file to itself, and SQLite answers "database is
    locked" at once instead of waiting on the busy timeout: a replica starting while another
    migrates a fresh file got it. So a database already in WAL mode is left alone, and the
    change is retried for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


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
            # Processes starting together migrate one after the other: the first upgrades,
            # the others then find the newest revision. PostgreSQL: an advisory lock (its DDL
            # is transactional); SQLite: the write lock taken up front, since its driver runs
            # DDL outside any transaction (two fresh starts both created alembic_version).
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            _advisory_lock(connection, MIGRATION_LOCK, transaction=True)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"database migration failed: {exc}") from exc


# PostgreSQL advisory lock keys (any 64-bit numbers no other program on the database uses).
MIGRATION_LOCK = 0x6B6566750001  # "kefu" 1
STARTUP_LOCK = 0x6B6566750002


def _advisory_lock(connection: Connection, key: int, *, transaction: bool) -> None:
    if connection.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if transaction else "pg_advisory_lock"
        connection.execute(text(f"SELECT {function}(:key)"), {"key": key})


@contextmanager
def exclusive_startup(engine: Engine) -> Iterator[None]:
    """Processes starting together take turns at their start-up writes (apps, keys, the app
    files' knowledge), so none trips over another's half-written rows. PostgreSQL: a session
    advisory lock; SQLite: a lock on a file next to the database. Both are released when the
    block ends or the process dies."""
    if engine.dialect.name == "sqlite":
        with _file_lock(engine.url.database):
            yield
        return
    with engine.connect() as connection:
        _advisory_lock(connection, STARTUP_LOCK, transaction=False)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK})
            connection.commit()


@contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    descriptor = os.open(f"{database}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


T = TypeVar("T")


def once_more_on_conflict(write: Callable[[], T]) -> T:
    """Run a read-then-insert-or-update transaction; if a concurrent one inserted the same
    unique row first (two identical requests at once), run it again: it then updates.

    SQLAlchemy's portable ORM has no upsert across SQLite and PostgreSQL (each dialect has
    its own ``on_conflict``), and these writes are rare, so a retry is the simple way."""
    try:
        return write()
    except IntegrityError:
        return write()
