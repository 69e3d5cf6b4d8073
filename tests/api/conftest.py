"""The API tier runs on SQLite and on PostgreSQL: the same tests, once per database.
The real-server tests (`kefu serve` in a child: schemathesis, the SDKs, slow clients, restart)
test HTTP, not the store, and stay on SQLite."""

from __future__ import annotations

import pytest

from tests.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
