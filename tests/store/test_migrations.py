"""Alembic migrations produce exactly the schema the models describe, on SQLite and on
PostgreSQL, and go down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kefu.store.db import _MIGRATIONS, create_db_engine, run_migrations
from kefu.store.models import Base


def test_migrations_match_models(db_url: str) -> None:
    engine = create_db_engine(db_url)
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
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("pragma journal_mode").scalar() == "wal"
    engine.dispose()


def test_migrations_go_down_to_nothing_and_up_again(db_url: str) -> None:
    engine = create_db_engine(db_url)
    run_migrations(engine)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    run_migrations(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_api_keys_are_stored_hashed(db_url: str) -> None:
    from kefu.store import Store

    store = Store.open(db_url)
    app = store.apps.upsert_app("a", {})
    plaintext = store.apps.create_key(app.id, "app")
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("select key_hash, prefix from api_keys").all()
    store.close()
    assert plaintext.startswith("app-")
    assert all(plaintext not in row[0] for row in rows)
    assert rows[0][1] == plaintext[:10]
