"""Which database URLs kefu accepts, and what a missing driver or unknown database says."""

from __future__ import annotations

import sys

import pytest

from kefu.core.errors import ConfigError
from kefu.store.db import create_db_engine, database_url
from tests.postgres import PostgresServer


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://kefu:secret@db:5432/kefu", "postgresql+psycopg"),
        ("postgres://kefu:secret@db/kefu", "postgresql+psycopg"),
        ("postgresql+psycopg://kefu@db/kefu", "postgresql+psycopg"),
        ("sqlite:////var/lib/kefu/kefu.db", "sqlite"),
    ],
)
def test_postgresql_urls_use_psycopg_3(given: str, driver: str) -> None:
    assert database_url(given).drivername == driver


def test_a_bare_postgresql_url_makes_a_psycopg_engine() -> None:
    engine = create_db_engine("postgresql://kefu:secret@127.0.0.1:1/kefu")  # not connected
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    assert "secret" not in repr(engine.url)
    engine.dispose()


def test_a_driver_that_is_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # not installed, whatever the venv has
    with pytest.raises(ConfigError) as caught:
        create_db_engine("postgresql+psycopg2://kefu@db/kefu")
    message = caught.value.message
    assert "KEFU_DATABASE_URL" in message and "psycopg2" in message
    assert "pip install 'kefu[postgres]'" in message and "postgresql+psycopg://" in message


@pytest.mark.parametrize("url", ["mysql://kefu@db/kefu", "oracle://x@db/y"])
def test_an_unsupported_database_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="KEFU_DATABASE_URL: unsupported database"):
        create_db_engine(url)


def test_a_malformed_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="KEFU_DATABASE_URL: not a database URL"):
        create_db_engine("not a url")


@pytest.mark.postgres
def test_url_options_are_kept_beside_the_utc_session(postgres: PostgresServer) -> None:
    url = postgres.create_database(migrated=False)
    engine = create_db_engine(f"{url}?options=-c%20statement_timeout%3D1234")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "1234ms"
        assert connection.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    engine.dispose()
    postgres.drop_database(url)
