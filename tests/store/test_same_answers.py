"""Queries that SQLite and PostgreSQL would answer differently unless kefu says what it means:
keyword search ignores case, timestamps come back in UTC whatever the server's time zone (the
test PostgreSQL runs in Asia/Shanghai), and the runtime really runs on the database it names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest

from kefu.core.ids import utcnow
from kefu.services.runtime import Runtime
from kefu.store import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def test_annotation_keywords_ignore_case_and_match_wildcards_literally(store: Store) -> None:
    app = store.apps.upsert_app("shop", {})
    refund = store.annotations.create(app.id, "How do I get a Refund?", "Within 7 days.")
    store.annotations.create(app.id, "100% cotton?", "Yes.")
    store.annotations.create(app.id, "运费谁付", "Free SHIPPING over 99.")
    for keyword, expected in [
        ("refund", ["How do I get a Refund?"]),
        ("REFUND", ["How do I get a Refund?"]),
        ("shipping", ["运费谁付"]),  # the answer matches too
        ("%", ["100% cotton?"]),
        ("_", []),
    ]:
        found, total = store.annotations.list_page(app.id, 1, 10, keyword)
        assert [a.question for a in found] == expected, keyword
        assert total == len(expected)
    assert refund.created_at.tzinfo is not None


def test_text_with_nul_is_stored_without_it(store: Store) -> None:
    """PostgreSQL text cannot hold NUL (SQLite's can): the write succeeds, the NUL is gone."""
    app = store.apps.upsert_app("shop", {})
    store.annotations.create(app.id, "退\x00货", "七天\x00内")
    stored = store.annotations.all(app.id)[0]
    assert stored.question.replace("\x00", "") == "退货"
    if store.engine.dialect.name == "postgresql":
        assert (stored.question, stored.answer) == ("退货", "七天内")


def test_timestamps_come_back_in_utc(store: Store) -> None:
    before = utcnow()
    app = store.apps.upsert_app("shop", {})
    store.annotations.create(app.id, "q", "a")
    created = store.annotations.all(app.id)[0].created_at  # read back from the database
    assert created.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created.astimezone(UTC) <= utcnow()


def test_the_runtime_runs_on_its_backend(runtime: Runtime, db_backend: str) -> None:
    dialect = runtime.store.engine.dialect
    assert dialect.name == {"sqlite": "sqlite", "postgres": "postgresql"}[db_backend]
    if dialect.name == "postgresql":
        assert dialect.driver == "psycopg"
        with runtime.store.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
