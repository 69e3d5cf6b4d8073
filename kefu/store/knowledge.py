"""Knowledge documents, their chunks and FAQ entries, per app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kefu.core.ids import new_id, utcnow
from kefu.core.records import DocumentRecord
from kefu.core.types import Chunk, ChunkDraft, FaqEntry
from kefu.store.db import as_utc
from kefu.store.models import AppRow, ChunkRow, DocumentRow, FaqRow

__all__ = ["KnowledgeRepository", "document_record"]


def document_record(row: DocumentRow, chunk_count: int) -> DocumentRecord:
    return DocumentRecord(
        id=row.id,
        app_id=row.app_id,
        name=row.name,
        source=row.source,
        origin=row.origin,
        kind=row.kind,
        content_hash=row.content_hash,
        meta=row.meta,
        chunk_count=chunk_count,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        dataset_id=row.dataset_id,
        revision=row.revision or 0,
    )


class KnowledgeRepository:
    """Stores what the index is built from; every change bumps the app's knowledge revision."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_documents(self, app_id: str) -> list[DocumentRecord]:
        with Session(self._engine) as session:
            chunk_counts = dict(
                session.execute(
                    select(ChunkRow.document_id, func.count())
                    .where(ChunkRow.app_id == app_id)
                    .group_by(ChunkRow.document_id)
                ).all()
            )
            faq_counts = dict(
                session.execute(
                    select(FaqRow.document_id, func.count())
                    .where(FaqRow.app_id == app_id)
                    .group_by(FaqRow.document_id)
                ).all()
            )
            rows = session.scalars(
                select(DocumentRow).where(DocumentRow.app_id == app_id).order_by(DocumentRow.source)
            )
            return [
                document_record(row, chunk_counts.get(row.id, 0) + faq_counts.get(row.id, 0))
                for row in rows
            ]

    def save_document(
        self,
        app_id: str,
        *,
        source: str,
        name: str,
        origin: str,
        content_hash: str,
        meta: dict[str, Any],
        chunks: Sequence[ChunkDraft] = (),
        faqs: Sequence[FaqEntry] = (),
        dataset_id: str | None = None,
    ) -> tuple[DocumentRecord, bool]:
        """Create or replace the document at ``source``; returns it and whether it changed.

        Re-importing unchanged content (same hash) is a no-op, so start-up stays cheap.
        FAQ entries whose id already belongs to another document of the app are replaced.
        ``dataset_id``: the knowledge-API dataset it belongs to (None: the default one).
        """
        kind = "faq" if faqs else "document"
        now = utcnow()
        with Session(self._engine) as session, session.begin():
            row = session.scalar(
                select(DocumentRow).where(
                    DocumentRow.app_id == app_id, DocumentRow.source == source
                )
            )
            if row is not None and row.content_hash == content_hash and row.name == name:
                file_hash = meta.get("file_hash")
                if file_hash is not None and row.meta.get("file_hash") != file_hash:
                    # the same content from other bytes (or stored before file hashes):
                    # remember the bytes, so the next import skips parsing them
                    row.meta = {**row.meta, "file_hash": file_hash}
                return document_record(row, len(chunks) + len(faqs)), False
            if row is None:
                row = DocumentRow(
                    id=new_id(),
                    app_id=app_id,
                    source=source,
                    created_at=now,
                    name=name,
                    origin=origin,
                    kind=kind,
                    content_hash=content_hash,
                    meta=meta,
                    updated_at=now,
                    dataset_id=dataset_id,
                )
                session.add(row)
                session.flush()
            else:
                row.name, row.origin, row.kind = name, origin, kind
                row.content_hash, row.meta, row.updated_at = content_hash, meta, now
                session.execute(delete(ChunkRow).where(ChunkRow.document_id == row.id))
                session.execute(delete(FaqRow).where(FaqRow.document_id == row.id))
            if chunks:
                session.execute(
                    insert(ChunkRow),
                    [
                        {
                            "id": new_id(),
                            "app_id": app_id,
                            "document_id": row.id,
                            "position": c.position,
                            "heading": c.heading,
                            "content": c.content,
                        }
                        for c in chunks
                    ],
                )
            if faqs:
                session.execute(
                    delete(FaqRow).where(
                        FaqRow.app_id == app_id, FaqRow.external_id.in_([f.id for f in faqs])
                    )
                )
                session.execute(
                    insert(FaqRow),
                    [
                        {
                            "id": new_id(),
                            "app_id": app_id,
                            "document_id": row.id,
                            "external_id": f.id,
                            "question": f.question,
                            "variants": list(f.variants),
                            "answer": f.answer,
                            "created_at": now,
                        }
                        for f in faqs
                    ],
                )
            row.revision = self.bump_revision(session, app_id)
            session.flush()
            return document_record(row, len(chunks) + len(faqs)), True

    def delete_document(self, app_id: str, document_id: str) -> bool:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(DocumentRow).where(
                    DocumentRow.app_id == app_id, DocumentRow.id == document_id
                )
            )
            if not getattr(result, "rowcount", 0):
                return False
            # Explicit deletes too: SQLite enforces ON DELETE CASCADE only with the pragma on.
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))
            session.execute(delete(FaqRow).where(FaqRow.document_id == document_id))
            self.bump_revision(session, app_id)
            return True

    def load(self, app_id: str) -> tuple[list[FaqEntry], list[Chunk]]:
        """Everything the index is built from, in a stable order."""
        with Session(self._engine) as session:
            names = dict(
                session.execute(
                    select(DocumentRow.id, DocumentRow.name).where(DocumentRow.app_id == app_id)
                ).all()
            )
            faqs = [
                FaqEntry(
                    id=row.external_id,
                    question=row.question,
                    answer=row.answer,
                    variants=tuple(row.variants),
                    document_id=row.document_id,
                    document_name=names.get(row.document_id, "") if row.document_id else "",
                )
                for row in session.scalars(
                    select(FaqRow).where(FaqRow.app_id == app_id).order_by(FaqRow.external_id)
                )
            ]
            chunks = [
                Chunk(
                    id=row.id,
                    document_id=row.document_id,
                    document_name=names.get(row.document_id, ""),
                    position=row.position,
                    content=row.content,
                    heading=row.heading,
                )
                for row in session.scalars(
                    select(ChunkRow)
                    .where(ChunkRow.app_id == app_id)
                    .order_by(ChunkRow.document_id, ChunkRow.position)
                )
            ]
            return faqs, chunks

    @staticmethod
    def bump_revision(session: Session, app_id: str) -> int:
        """Bump the app's knowledge revision (the index reloads on it); the new revision."""
        session.execute(
            update(AppRow)
            .where(AppRow.id == app_id)
            .values(knowledge_revision=AppRow.knowledge_revision + 1)
        )
        return int(
            session.scalar(select(AppRow.knowledge_revision).where(AppRow.id == app_id)) or 0
        )
