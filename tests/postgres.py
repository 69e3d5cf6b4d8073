"""A real PostgreSQL for the test run: Debian's server binaries, a throw-away cluster in a
temporary directory, listening on a free loopback port; one database per runtime or store.

``make test`` installs Debian's ``postgresql`` when it is missing (``make postgres``). Without
it the PostgreSQL variants fail with the reason; ``KEFU_TEST_POSTGRES=skip`` skips them instead
(for a developer's machine, never in CI).

PostgreSQL refuses to run as root: when the tests run as root (CI containers, this VM) the
cluster belongs to the ``postgres`` system user and the server runs as that user.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from kefu.store.db import create_db_engine, run_migrations
from tests.servers import free_port

__all__ = ["SKIP_ENV", "PostgresServer", "postgres_bin_dir"]

SKIP_ENV = "KEFU_TEST_POSTGRES"  # "skip": skip the PostgreSQL variants (never in CI)
PREFERRED_VERSION = "15"
PR_SET_PDEATHSIG = 1
TEMPLATE = "kefu_template"
# Durability is irrelevant for a throw-away cluster; these make CREATE DATABASE and commits
# cost milliseconds instead of fsyncs.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
    "timezone": "Asia/Shanghai",  # not UTC on purpose: kefu must not depend on the server's zone
}


def postgres_bin_dir() -> Path:
    """Debian's server binaries (``/usr/lib/postgresql/<version>/bin``), 15 preferred."""
    root = Path("/usr/lib/postgresql")
    preferred = root / PREFERRED_VERSION / "bin" / "postgres"
    found = [preferred] if preferred.is_file() else list(root.glob("*/bin/postgres"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): run "
            f"`make postgres` (Debian's postgresql), or set {SKIP_ENV}=skip to skip the "
            "PostgreSQL variants of the tests"
        )
    newest = max(found, key=lambda path: float(path.parent.parent.name))
    return newest.parent


def _as_user(uid: int | None, gid: int | None) -> Callable[[], None]:
    """``preexec_fn``: drop to the cluster's owner (when root), then ask the kernel to stop
    the server when pytest dies. The death signal must be set after the uid change, which
    clears it — hence this rather than ``runuser`` or ``Popen(user=...)``."""

    def prepare() -> None:
        if uid is not None and gid is not None:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
        except OSError:
            return
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)  # immediate shutdown

    return prepare


class PostgresServer:
    """A PostgreSQL cluster of its own: ``initdb`` into a temp dir, ``postgres`` on a free
    port (loopback and a socket in the temp dir), trust authentication, stopped by
    :meth:`stop`. :meth:`create_database` hands out fresh databases."""

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._uid: int | None = None
        self._gid: int | None = None
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # Debian's package creates this user
            self._uid, self._gid = owner.pw_uid, owner.pw_gid
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._names = itertools.count(1)
        self._template_ready = False
        self._process: subprocess.Popen[bytes] | None = None
        try:
            self._initdb()
            self._start()
        except BaseException:
            self.stop()
            raise

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            preexec_fn=_as_user(self._uid, self._gid),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {output}")

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def _start(self) -> None:
        options = [f"-c{key}={value}" for key, value in FAST_SETTINGS.items()]
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-h", "127.0.0.1", "-k", str(self.root), *options],
                stdout=log, stderr=log, preexec_fn=_as_user(self._uid, self._gid),
            )  # fmt: skip
        if self._uid is not None:
            os.chown(self.log, self._uid, -1)
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log.read_text(errors='replace')}")
            try:
                with psycopg.connect(self.admin_dsn, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres did not accept connections in 60 s: "
                        f"{self.log.read_text(errors='replace')}"
                    ) from None
                time.sleep(0.1)

    def _execute(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as connection:
            connection.execute(statement)

    def create_database(self, *, migrated: bool = True) -> str:
        """A new, empty database's URL; ``migrated``: copied from a template already at the
        newest schema (what ``Store.open`` would do, without paying for it per database)."""
        name = f"kefu_{next(self._names)}"
        if migrated and not self._template_ready:
            self._execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
            engine = create_db_engine(self.url(TEMPLATE))
            run_migrations(engine)
            engine.dispose()
            self._template_ready = True
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if migrated:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(TEMPLATE))
        self._execute(statement)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database handed out by :meth:`create_database` (its clients are cut off)."""
        name = url.rsplit("/", 1)[1]
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)  # fast shutdown: clients cut off
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
