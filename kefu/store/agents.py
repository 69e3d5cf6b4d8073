"""Human agents and their keys (``agent-…``, stored as HMACs: :mod:`kefu.core.key_hash`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.errors import Conflict
from kefu.core.handoff_records import AgentRecord
from kefu.core.ids import new_id, utcnow
from kefu.core.key_hash import KeyHasher, key_prefix
from kefu.store.apps import generate_key
from kefu.store.db import as_utc
from kefu.store.models import AgentRow

__all__ = ["ADMIN_AGENT", "AgentRepository"]

ADMIN_AGENT = "admin"  # the console user behind KEFU_ADMIN_KEY
_NO_KEY = "!admin"  # not a SHA-256 digest, so no key can ever match it


def agent_record(row: AgentRow) -> AgentRecord:
    return AgentRecord(
        id=row.id,
        name=row.name,
        key_prefix=row.key_prefix,
        apps=list(row.apps),
        online=row.online,
        last_assigned_at=as_utc(row.last_assigned_at) if row.last_assigned_at else None,
        created_at=as_utc(row.created_at),
        disabled=row.disabled_at is not None,
    )


class AgentRepository:
    def __init__(self, engine: Engine, key_hasher: KeyHasher | None = None) -> None:
        self._engine = engine
        self._hasher = key_hasher or KeyHasher()

    def create(self, name: str, apps: list[str]) -> tuple[AgentRecord, str]:
        """A new agent and its key; the plaintext is returned only now."""
        plaintext = generate_key("agent")
        row = AgentRow(
            id=new_id(),
            name=name,
            key_prefix=key_prefix(plaintext),
            key_hash=self._hasher.digest(plaintext),
            apps=apps,
            online=False,
            last_assigned_at=None,
            created_at=utcnow(),
            disabled_at=None,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                record = agent_record(row)
        except IntegrityError:
            raise Conflict(f"an agent named {name!r} exists already") from None
        return record, plaintext

    def ensure_admin(self) -> AgentRecord:
        """The agent row the admin key acts as in the console (it has no key of its own)."""
        try:
            return self._ensure_admin()
        except IntegrityError:
            # Two first requests at once both inserted it: the other one won; read its row.
            return self._ensure_admin()

    def _ensure_admin(self) -> AgentRecord:
        with Session(self._engine) as session, session.begin():
            row = session.scalar(select(AgentRow).where(AgentRow.key_hash == _NO_KEY))
            if row is None:
                row = AgentRow(
                    id=new_id(), name=ADMIN_AGENT, key_prefix="", key_hash=_NO_KEY, apps=[],
                    online=False, last_assigned_at=None, created_at=utcnow(), disabled_at=None,
                )  # fmt: skip
                session.add(row)
                session.flush()
            return agent_record(row)

    def rotate_key(self, agent_id: str) -> tuple[AgentRecord, str] | None:
        plaintext = generate_key("agent")
        with Session(self._engine) as session, session.begin():
            row = session.get(AgentRow, agent_id)
            if row is None or row.disabled_at is not None or row.key_hash == _NO_KEY:
                return None
            row.key_hash = self._hasher.digest(plaintext)
            row.key_prefix = key_prefix(plaintext)
            session.flush()
            return agent_record(row), plaintext

    def by_key(self, plaintext: str) -> AgentRecord | None:
        """The agent holding this key; a key stored as plain SHA-256 (before the HMAC) is
        found too, and rewritten as an HMAC."""
        digest = self._hasher.digest(plaintext)
        digests = [digest]
        legacy = self._hasher.legacy_digest(plaintext)
        if legacy is not None:
            digests.append(legacy)
        with Session(self._engine) as session, session.begin():
            row = session.scalar(
                select(AgentRow).where(
                    AgentRow.key_hash.in_(digests), AgentRow.disabled_at.is_(None)
                )
            )
            if row is None:
                return None
            if row.key_hash != digest:
                row.key_hash = digest
                session.flush()
            return agent_record(row)

    def get(self, agent_id: str) -> AgentRecord | None:
        with Session(self._engine) as session:
            row = session.get(AgentRow, agent_id)
            return agent_record(row) if row else None

    def list(self, *, include_disabled: bool = False) -> list[AgentRecord]:
        with Session(self._engine) as session:
            query = select(AgentRow).where(AgentRow.key_hash != _NO_KEY).order_by(AgentRow.name)
            if not include_disabled:
                query = query.where(AgentRow.disabled_at.is_(None))
            return [agent_record(row) for row in session.scalars(query)]

    def set_online(self, agent_id: str, online: bool) -> AgentRecord | None:
        with Session(self._engine) as session, session.begin():
            row = session.get(AgentRow, agent_id)
            if row is None or row.disabled_at is not None:
                return None
            row.online = online
            session.flush()
            return agent_record(row)

    def mark_assigned(self, agent_id: str, at: datetime) -> None:
        """Round-robin bookkeeping: the agent least recently given a conversation goes next."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(AgentRow).where(AgentRow.id == agent_id).values(last_assigned_at=at)
            )

    def disable(self, agent_id: str) -> bool:
        """Stop the agent's key and take it offline; its replies stay in the history."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                update(AgentRow)
                .where(
                    AgentRow.id == agent_id,
                    AgentRow.disabled_at.is_(None),
                    AgentRow.key_hash != _NO_KEY,
                )
                .values(disabled_at=utcnow(), online=False)
            )
            return bool(getattr(result, "rowcount", 0))
