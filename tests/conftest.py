"""Shared fixtures: a runtime over a temp data dir with the demo app and a tiny second app,
on the database ``db_backend`` names (SQLite; the store, API and hand-over tiers override it
to run on PostgreSQL too)."""

from __future__ import annotations

import os

# gRPC (pymilvus and milvus-lite, loaded by the vector store tests) installs fork handlers
# in the process that imports it. Each test that starts a server forks this process to
# exec it, and a child that ran those handlers died once before its exec, with nothing in
# its log but gRPC's "Epoll1Poller ... epoll_wait error: Bad file descriptor" (twelve
# shop-dialog tests errored). Every child here execs at once, so none needs them. This is
# set before anything imports gRPC.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import sys
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from kefu.core.settings import Settings
from kefu.services.runtime import Runtime
from tests.postgres import SKIP_ENV, PostgresServer
from tests.servers import in_process_client

FIXTURES = Path(__file__).parent / "fixtures"
TINY_APP = FIXTURES / "apps" / "tiny.yaml"
DEMO_KEY = "app-demo-test-key"
ADMIN_KEY = "admin-test-key"
# What the tiers that run on both databases parametrise ``db_backend`` with; the PostgreSQL
# variants carry the ``postgres`` marker (``-m "not postgres"`` leaves them out).
BACKENDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))
T = TypeVar("T")


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """In-process tests train intents in-process (a child per runtime would cost seconds);
    the real servers of the integration tests train in a child, as `kefu serve` does."""
    overrides.setdefault("train_in_subprocess", False)
    # One demo key serves every in-process test of the session: its default per-key limit
    # (50/s) would make unrelated tests flaky. The limit's own tests set it.
    overrides.setdefault("key_rate_per_s", 0)
    return Settings(
        data_dir=data_dir,
        admin_key=SecretStr(ADMIN_KEY),
        demo_api_key=SecretStr(DEMO_KEY),
        **overrides,
    )


@pytest.fixture
def db_backend() -> str:
    """The database under ``runtime``, ``llm_runtime`` and ``db_url``: SQLite here; the store,
    API and hand-over tiers override it with :data:`BACKENDS` (the same tests on each)."""
    return "sqlite"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The test run's PostgreSQL, started by the first test that needs it. Missing or broken,
    it fails those tests with the reason; ``KEFU_TEST_POSTGRES=skip`` skips them instead."""
    if os.environ.get(SKIP_ENV) == "skip":
        pytest.skip(f"{SKIP_ENV}=skip: the PostgreSQL variants are skipped")
    server = PostgresServer()
    yield server
    server.stop()


def new_database(
    request: pytest.FixtureRequest,
    backend: str,
    folder: Path,
    *,
    migrated: bool = True,
    drop: bool = True,
) -> str:
    """A fresh database for one runtime or store: a SQLite file in ``folder``, or a database
    of its own on the test run's PostgreSQL (``migrated``: already at the newest schema),
    dropped with the fixture that asked for it (``drop``; else with the cluster)."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'kefu.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.create_database(migrated=migrated)
    if drop:
        request.addfinalizer(lambda: server.drop_database(url))
    return url


def backend_settings(
    request: pytest.FixtureRequest,
    backend: str,
    data_dir: Path,
    *,
    drop: bool = True,
    **overrides: Any,
) -> Settings:
    """``make_settings`` on ``backend``: SQLite in the data dir as `kefu serve` uses it, or a
    PostgreSQL database of its own (see :func:`new_database`)."""
    if backend != "sqlite":
        overrides["database_url"] = new_database(request, backend, data_dir, drop=drop)
    return make_settings(data_dir, **overrides)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> str:
    """A fresh, empty database of this test's backend (``Store.open`` migrates it)."""
    return new_database(request, db_backend, tmp_path / "db", migrated=False)


class PerBackend(Generic[T]):
    """Objects built once per database backend and kept for a session or module.

    A session fixture cannot depend on the function-scoped ``db_backend`` (and pytest keeps
    one cached value per fixture, not one per backend), so a session runtime is fetched
    from here by a function fixture."""

    def __init__(self, close: Callable[[T], None] | None = None) -> None:
        self._built: dict[Hashable, T] = {}
        self._close = close

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]

    def close(self) -> None:
        if self._close is not None:
            for built in reversed(self._built.values()):
                self._close(built)


@pytest.fixture(scope="session")
def runtimes() -> Iterator[PerBackend[Runtime]]:
    pool: PerBackend[Runtime] = PerBackend(Runtime.close)
    yield pool
    pool.close()


@pytest.fixture
def runtime(
    request: pytest.FixtureRequest,
    runtimes: PerBackend[Runtime],
    db_backend: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Runtime:
    """One runtime per backend for the session; tests isolate themselves by their own `user`."""

    def build() -> Runtime:
        data_dir = tmp_path_factory.mktemp(f"kefu-data-{db_backend}")
        # Session-long: its PostgreSQL database outlives the test that built it.
        settings = backend_settings(request, db_backend, data_dir, drop=False)
        return Runtime.build(settings, [TINY_APP], demo=True)

    return runtimes.get(db_backend, build)


@pytest.fixture(scope="session")
def tiny_keys() -> PerBackend[str]:
    return PerBackend()


@pytest.fixture
def tiny_key(runtime: Runtime, tiny_keys: PerBackend[str], db_backend: str) -> str:
    """An app key of the tiny app, made once per runtime."""
    app = runtime.apps.get("tiny")
    return tiny_keys.get(db_backend, lambda: runtime.apps.new_key(app, "app")[1])


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The demo app's service API, in process."""
    async with in_process_client(runtime, DEMO_KEY) as http:
        yield http
    await runtime.aclose_models()  # this test's event loop's tool and model connections


@pytest.fixture
def user(request: pytest.FixtureRequest) -> str:
    """An end-user id unique to the test, so tests never see each other's conversations."""
    return f"user-{request.node.name}"


@pytest.fixture
def llm_runtime(
    request: pytest.FixtureRequest, db_backend: str, tmp_path: Path
) -> Iterator[Runtime]:
    """The demo app for tests that give it a (scripted) model: the FAQ answers directly
    only near-exact questions, so most questions are generated."""
    settings = backend_settings(request, db_backend, tmp_path / "data")
    runtime = Runtime.build(settings, [], demo=True)
    app = runtime.apps.get("demo-shop")
    knowledge = app.config.knowledge.model_copy(update={"faq_threshold": 0.99})
    app.config = app.config.model_copy(update={"knowledge": knowledge})
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session (tests keep apart by their own key prefixes)."""
    from tests.redis_server import REDIS_SERVER, running_redis

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (make test installs it: Debian's redis-server)")
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session", autouse=True)
def _milvus_lite_servers_stop_with_the_session() -> Iterator[None]:
    """milvus-lite keeps a server per ``.db`` file until its own exit hook, which logs into
    streams pytest has closed by then ("I/O operation on closed file"): stop them here."""
    yield
    manager = sys.modules.get("milvus_lite.server_manager")
    if manager is not None:
        manager.server_manager_instance.release_all()
