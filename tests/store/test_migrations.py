"""Alembic migrations produce exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kefu.store.db import create_db_engine, run_migrations
from kefu.store.models import Base


def test_migrations_match_models(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    run_migrations(engine)
    run_migrations(engine)  # idempotent: a restart migrates nothing
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {
        "apps",
        "api_keys",
        "end_users",
        "conversations",
        "messages",
        "message_traces",
        "feedbacks",
        "knowledge_documents",
        "knowledge_chunks",
        "faq_entries",
    } <= tables
    with engine.connect() as connection:
        assert connection.exec_driver_sql("pragma journal_mode").scalar() == "wal"
    engine.dispose()


def test_api_keys_are_stored_hashed(tmp_path: Path) -> None:
    from kefu.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'k.db'}")
    app = store.apps.upsert_app("a", {})
    plaintext = store.apps.create_key(app.id, "app")
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("select key_hash, prefix from api_keys").all()
    store.close()
    assert plaintext.startswith("app-")
    assert all(plaintext not in row[0] for row in rows)
    assert rows[0][1] == plaintext[:10]
