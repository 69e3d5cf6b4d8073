"""Alembic environment: runs on the connection kefu hands over (see kefu.store.db)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from kefu.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # `alembic` CLI: sqlalchemy.url from the ini file
        connectable = engine_from_config(
            context.config.get_section(context.config.config_ini_section) or {},
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        with connectable.connect() as fresh:
            context.configure(
                connection=fresh, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
