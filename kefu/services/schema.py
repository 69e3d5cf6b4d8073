"""The database schema as a step of its own: ``kefu db upgrade`` before replicas start.

Every ``kefu serve`` still migrates at start (a no-op at the newest revision), so one laptop
needs nothing more; with several replicas a deployment runs this once first (a Kubernetes
Job, a compose service) so replicas never race to create the same tables.
"""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import SQLAlchemyError

from kefu.core.errors import ConfigError, StorageError
from kefu.store.db import create_db_engine, run_migrations

__all__ = ["upgrade_database"]


def upgrade_database(url: str) -> str:
    """Bring the database at ``url`` to the newest schema; returns the revision it is at."""
    try:
        engine = create_db_engine(url)
    except ImportError as exc:
        raise ConfigError(
            f"the database driver {exc.name!r} is not installed (PostgreSQL: "
            "pip install 'kefu[postgres]')",
            key="KEFU_DATABASE_URL",
        ) from None
    except SQLAlchemyError as exc:
        raise ConfigError(f"invalid database URL: {exc}", key="KEFU_DATABASE_URL") from None
    except OSError as exc:  # the SQLite file cannot be created where the URL says
        raise StorageError(f"cannot create the database file: {exc}") from None
    try:
        run_migrations(engine)
        with engine.connect() as connection:
            revision = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read the schema revision: {exc}") from exc
    finally:
        engine.dispose()
    return revision or "none"
