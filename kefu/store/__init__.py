"""Relational state: apps, keys, conversations, messages, traces, feedback, knowledge.

SQLite (WAL) in the data dir by default; any SQLAlchemy URL (PostgreSQL) through
``KEFU_DATABASE_URL``. The engine sees only :class:`Store` and the records in
``kefu.core.records``, never SQL.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Engine, text

from kefu.core.key_hash import KeyHasher
from kefu.core.records import TurnRecord
from kefu.store.admin import AdminRepository, AuditEntry
from kefu.store.agents import AgentRepository
from kefu.store.analytics import AnalyticsRepository
from kefu.store.annotations import AnnotationRepository
from kefu.store.apps import ApiKeyRecord, AppRepository, generate_key
from kefu.store.channels import ChannelRepository
from kefu.store.conversations import ConversationRepository
from kefu.store.datasets import DatasetRepository
from kefu.store.db import Checkpointer, create_db_engine, exclusive_startup, run_migrations
from kefu.store.exports import ExportRepository
from kefu.store.files import FileRepository
from kefu.store.gaps import QuestionRepository
from kefu.store.handoff import HandoffRepository
from kefu.store.knowledge import KnowledgeRepository
from kefu.store.proactive import ProactiveRepository
from kefu.store.tickets import TicketRepository
from kefu.store.writer import TurnWriter

__all__ = [
    "ApiKeyRecord",
    "AuditEntry",
    "Store",
    "generate_key",
]


class Store:
    """The one handle on persistent state, opened once per process."""

    def __init__(self, engine: Engine, key_hasher: KeyHasher | None = None) -> None:
        self.engine = engine
        self.key_hasher = key_hasher or KeyHasher()
        self.apps = AppRepository(engine, self.key_hasher)
        self.conversations = ConversationRepository(engine)
        self.knowledge = KnowledgeRepository(engine)
        self.admin = AdminRepository(engine)
        self.agents = AgentRepository(engine, self.key_hasher)
        self.handoff = HandoffRepository(engine)
        self.tickets = TicketRepository(engine)
        self.datasets = DatasetRepository(engine)
        self.annotations = AnnotationRepository(engine)
        self.questions = QuestionRepository(engine)
        self.analytics = AnalyticsRepository(engine)
        self.exports = ExportRepository(engine)
        self.channels = ChannelRepository(engine)
        self.files = FileRepository(engine)
        self.proactive = ProactiveRepository(engine)
        self._writer = TurnWriter(engine)
        self._checkpointer = Checkpointer(engine) if engine.dialect.name == "sqlite" else None

    @classmethod
    def open(cls, url: str, key_hasher: KeyHasher | None = None) -> Store:
        """Connect and migrate to the newest schema. ``key_hasher``: how keys are stored
        (the server's HMAC; without one, plain SHA-256)."""
        engine = create_db_engine(url)
        run_migrations(engine)
        return cls(engine, key_hasher)

    def ping(self) -> None:
        """A real round trip to the database (``SELECT 1``); raises when it cannot answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def startup(self) -> AbstractContextManager[None]:
        """Hold this while writing what start-up writes (apps, keys, the app files'
        knowledge): replicas starting together on one PostgreSQL take turns."""
        return exclusive_startup(self.engine)

    async def save_turn(self, turn: TurnRecord) -> None:
        """Persist a turn; returns once it is committed (group commit, see ``writer``)."""
        await self._writer.save(turn)

    def close(self) -> None:
        self._writer.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()
