"""Apps and their API keys."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.ids import new_id, utcnow
from kefu.core.key_hash import KeyHasher, key_prefix
from kefu.core.records import ApiKeyRecord, AppRecord
from kefu.store.db import as_utc
from kefu.store.models import ApiKeyRow, AppRow

__all__ = ["ApiKeyRecord", "AppRepository", "generate_key"]

KEY_PREFIXES = {"app": "app-", "dataset": "dataset-", "admin": "admin-", "agent": "agent-"}


def generate_key(kind: str) -> str:
    return KEY_PREFIXES[kind] + secrets.token_urlsafe(24)


def _app(row: AppRow) -> AppRecord:
    return AppRecord(row.id, row.name, row.config, row.knowledge_revision)


def _key(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.id, row.app_id, row.kind, row.prefix, as_utc(row.created_at), row.revoked_at is not None
    )


class AppRepository:
    """Reads and writes apps and API keys."""

    def __init__(self, engine: Engine, key_hasher: KeyHasher | None = None) -> None:
        self._engine = engine
        self._hasher = key_hasher or KeyHasher()

    def upsert_app(self, name: str, config: dict[str, Any]) -> AppRecord:
        """Create the app or store its new configuration; the id never changes."""
        now = utcnow()
        with Session(self._engine) as session, session.begin():
            row = session.scalar(select(AppRow).where(AppRow.name == name))
            if row is None:
                row = AppRow(
                    id=new_id(),
                    name=name,
                    config=config,
                    knowledge_revision=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
            elif row.config != config:
                row.config = config
                row.updated_at = now
            session.flush()
            return _app(row)

    def get_by_name(self, name: str) -> AppRecord | None:
        with Session(self._engine) as session:
            row = session.scalar(select(AppRow).where(AppRow.name == name))
            return _app(row) if row else None

    def list_apps(self) -> list[AppRecord]:
        with Session(self._engine) as session:
            return [_app(row) for row in session.scalars(select(AppRow).order_by(AppRow.name))]

    def knowledge_revision(self, app_id: str) -> int:
        with self._engine.connect() as connection:
            value = connection.scalar(select(AppRow.knowledge_revision).where(AppRow.id == app_id))
            return int(value or 0)

    def create_key(self, app_id: str | None, kind: str, plaintext: str | None = None) -> str:
        """Store a new key (hashed) and return its plaintext — the only time it is seen."""
        return self.create_key_record(app_id, kind, plaintext)[1]

    def create_key_record(
        self, app_id: str | None, kind: str, plaintext: str | None = None
    ) -> tuple[ApiKeyRecord, str]:
        plaintext = plaintext or generate_key(kind)
        key_id = new_id()
        with Session(self._engine) as session, session.begin():
            session.add(
                ApiKeyRow(
                    id=key_id,
                    app_id=app_id,
                    kind=kind,
                    prefix=key_prefix(plaintext),
                    key_hash=self._hasher.digest(plaintext),
                    created_at=utcnow(),
                    revoked_at=None,
                )
            )
        record = ApiKeyRecord(key_id, app_id, kind, key_prefix(plaintext), utcnow(), False)
        return record, plaintext

    def ensure_key(self, app_id: str | None, kind: str, plaintext: str) -> None:
        """Register a key given from outside (e.g. ``KEFU_DEMO_API_KEY``) if it is new."""
        if self.find_key(plaintext) is None:
            self.create_key(app_id, kind, plaintext)

    def find_key(self, plaintext: str) -> ApiKeyRecord | None:
        """The stored key ``plaintext`` is, revoked or not. A key stored before the HMAC (plain
        SHA-256), or with a prefix that shows too much of it, is rewritten now that its
        plaintext is at hand."""
        digests = [self._hasher.digest(plaintext)]
        legacy = self._hasher.legacy_digest(plaintext)
        if legacy is not None:
            digests.append(legacy)
        with Session(self._engine) as session, session.begin():
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash.in_(digests)))
            if row is None:
                return None
            row.key_hash = digests[0]
            row.prefix = key_prefix(plaintext)
            session.flush()
            return _key(row)

    def active_keys(self) -> dict[str, ApiKeyRecord]:
        """All usable keys by hash, for the in-memory key cache."""
        with Session(self._engine) as session:
            rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None)))
            return {row.key_hash: _key(row) for row in rows}

    def list_keys(self, app_id: str) -> list[ApiKeyRecord]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.app_id == app_id).order_by(ApiKeyRow.created_at)
            )
            return [_key(row) for row in rows]
