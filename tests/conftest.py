"""Shared fixtures: a runtime over a temp data dir with the demo app and a tiny second app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kefu.api.app import create_app
from kefu.core.settings import Settings
from kefu.services.runtime import Runtime

FIXTURES = Path(__file__).parent / "fixtures"
TINY_APP = FIXTURES / "apps" / "tiny.yaml"
DEMO_KEY = "app-demo-test-key"
ADMIN_KEY = "admin-test-key"


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


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One runtime for the session; tests isolate themselves by using their own `user`."""
    built = Runtime.build(
        make_settings(tmp_path_factory.mktemp("kefu-data")), [TINY_APP], demo=True
    )
    yield built
    built.close()


@pytest.fixture(scope="session")
def tiny_key(runtime: Runtime) -> str:
    return runtime.apps.new_key(runtime.apps.get("tiny"), "app")[1]


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The demo app's service API, in process."""
    app = create_app(runtime, close_runtime=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://kefu.test",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
    ) as http:
        yield http
    await runtime.aclose_models()  # this test's event loop's tool and model connections


@pytest.fixture
def user(request: pytest.FixtureRequest) -> str:
    """An end-user id unique to the test, so tests never see each other's conversations."""
    return f"user-{request.node.name}"


@pytest.fixture
def llm_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """The demo app for tests that give it a (scripted) model: the FAQ answers directly
    only near-exact questions, so most questions are generated."""
    runtime = Runtime.build(make_settings(tmp_path / "data"), [], demo=True)
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
