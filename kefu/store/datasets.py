"""Datasets (named groups of an app's documents) and their segments, for the knowledge API.

Documents themselves are written by :class:`~kefu.store.knowledge.KnowledgeRepository`
(``save_document`` takes the dataset); this repository lists and groups them and edits
single segments. A segment is a chunk of a document, or an entry of an FAQ file. Every
change bumps the app's knowledge revision, so every process reloads its index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.errors import Conflict
from kefu.core.ids import new_id, utcnow
from kefu.core.records import DatasetRecord, DocumentRecord, SegmentDraft, SegmentRecord
from kefu.store.db import as_utc
from kefu.store.knowledge import KnowledgeRepository, document_record
from kefu.store.models import ChunkRow, DatasetRow, DocumentRow, FaqRow

__all__ = ["DatasetRepository"]


def _in_dataset(dataset_id: str | None) -> ColumnElement[bool]:
    if dataset_id is None:
        return DocumentRow.dataset_id.is_(None)
    return DocumentRow.dataset_id == dataset_id


def _chunk_segment(row: ChunkRow) -> SegmentRecord:
    return SegmentRecord(
        id=row.id,
        document_id=row.document_id,
        position=row.position,
        content=row.content,
        heading=row.heading,
    )


def _faq_segment(row: FaqRow, position: int) -> SegmentRecord:
    return SegmentRecord(
        id=row.id,
        document_id=row.document_id or "",
        position=position,
        content=row.question,
        answer=row.answer,
        variants=tuple(row.variants),
        created_at=as_utc(row.created_at),
    )


class DatasetRepository:
    """Datasets, the documents in each, and segment edits."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- datasets ------------------------------------------------------------------------

    def create(self, app_id: str, name: str, description: str) -> DatasetRecord:
        now = utcnow()
        dataset_id = new_id()
        row = DatasetRow(
            id=dataset_id,
            app_id=app_id,
            name=name,
            description=description,
            created_at=now,
            updated_at=now,
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise Conflict(f"a dataset named {name!r} already exists") from None
        return DatasetRecord(dataset_id, app_id, name, description, 0, 0, now, now)

    def list_page(self, app_id: str, offset: int, limit: int) -> tuple[list[DatasetRecord], int]:
        """The app's datasets from ``offset``, newest first, and how many there are."""
        with Session(self._engine) as session:
            total = session.scalar(
                select(func.count()).select_from(DatasetRow).where(DatasetRow.app_id == app_id)
            )
            rows = session.scalars(
                select(DatasetRow)
                .where(DatasetRow.app_id == app_id)
                .order_by(DatasetRow.created_at.desc(), DatasetRow.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            counts = self._counts(session, app_id, [row.id for row in rows])
            return [self._dataset(row, *counts.get(row.id, (0, 0))) for row in rows], int(
                total or 0
            )

    def get(self, app_id: str, dataset_id: str) -> DatasetRecord | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(DatasetRow).where(DatasetRow.app_id == app_id, DatasetRow.id == dataset_id)
            )
            if row is None:
                return None
            return self._dataset(row, *self._counts(session, app_id, [row.id]).get(row.id, (0, 0)))

    def default_summary(self, app_id: str) -> tuple[int, int, datetime]:
        """(documents, characters, first document's creation) of the default dataset."""
        with Session(self._engine) as session:
            documents, words = self._counts(session, app_id, [None]).get(None, (0, 0))
            first = session.scalar(
                select(func.min(DocumentRow.created_at)).where(
                    DocumentRow.app_id == app_id, _in_dataset(None)
                )
            )
            return documents, words, as_utc(first) if first else utcnow()

    def delete(self, app_id: str, dataset_id: str) -> bool:
        """Delete the dataset with its documents; False if there is no such dataset."""
        with Session(self._engine) as session, session.begin():
            deleted = session.execute(
                delete(DatasetRow).where(DatasetRow.app_id == app_id, DatasetRow.id == dataset_id)
            )
            if not getattr(deleted, "rowcount", 0):
                return False
            documents = select(DocumentRow.id).where(
                DocumentRow.app_id == app_id, DocumentRow.dataset_id == dataset_id
            )
            session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(documents)))
            session.execute(delete(FaqRow).where(FaqRow.document_id.in_(documents)))
            session.execute(
                delete(DocumentRow).where(
                    DocumentRow.app_id == app_id, DocumentRow.dataset_id == dataset_id
                )
            )
            KnowledgeRepository.bump_revision(session, app_id)
            return True

    # --- documents -----------------------------------------------------------------------

    def documents(
        self,
        app_id: str,
        dataset_id: str | None,
        *,
        page: int = 1,
        limit: int = 1000,
        keyword: str | None = None,
    ) -> tuple[list[DocumentRecord], int]:
        """One page of a dataset's documents (None: the default dataset), newest first."""
        where = [DocumentRow.app_id == app_id, _in_dataset(dataset_id)]
        if keyword:
            where.append(DocumentRow.name.icontains(keyword, autoescape=True))
        with Session(self._engine) as session:
            total = session.scalar(select(func.count()).select_from(DocumentRow).where(*where))
            rows = session.scalars(
                select(DocumentRow)
                .where(*where)
                .order_by(DocumentRow.created_at.desc(), DocumentRow.id.desc())
                .offset((page - 1) * limit)
                .limit(limit)
            ).all()
            sizes = self._document_sizes(session, [row.id for row in rows])
            return [document_record(row, sizes.get(row.id, 0)) for row in rows], int(total or 0)

    def document(self, app_id: str, document_id: str) -> DocumentRecord | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(DocumentRow).where(
                    DocumentRow.app_id == app_id, DocumentRow.id == document_id
                )
            )
            if row is None:
                return None
            return document_record(row, self._document_sizes(session, [row.id]).get(row.id, 0))

    def document_ids(self, app_id: str, dataset_id: str | None) -> list[str]:
        with Session(self._engine) as session:
            return list(
                session.scalars(
                    select(DocumentRow.id).where(
                        DocumentRow.app_id == app_id, _in_dataset(dataset_id)
                    )
                )
            )

    def word_counts(self, document_ids: Sequence[str]) -> dict[str, int]:
        """Characters of each document's chunks (or FAQ questions and answers)."""
        with Session(self._engine) as session:
            return self._word_counts(session, document_ids)

    # --- segments ------------------------------------------------------------------------

    def segments(
        self, document: DocumentRecord, *, page: int, limit: int, keyword: str | None = None
    ) -> tuple[list[SegmentRecord], int]:
        """One page of a document's segments, in document order, and how many there are."""
        with Session(self._engine) as session:
            if document.kind == "faq":
                rows = session.scalars(
                    select(FaqRow)
                    .where(FaqRow.document_id == document.id)
                    .order_by(FaqRow.created_at, FaqRow.id)
                ).all()
                found = [_faq_segment(row, n) for n, row in enumerate(rows, 1)]
            else:
                chunks = session.scalars(
                    select(ChunkRow)
                    .where(ChunkRow.document_id == document.id)
                    .order_by(ChunkRow.position)
                ).all()
                found = [_chunk_segment(row) for row in chunks]
        if keyword:
            lowered = keyword.lower()
            found = [s for s in found if lowered in f"{s.content}\n{s.answer}".lower()]
        start = (page - 1) * limit
        return found[start : start + limit], len(found)

    def faq_segment_ids(self, app_id: str, external_ids: Sequence[str]) -> dict[str, str]:
        """FAQ entry id (as the index knows it) → segment id."""
        if not external_ids:
            return {}
        with Session(self._engine) as session:
            return dict(
                session.execute(
                    select(FaqRow.external_id, FaqRow.id).where(
                        FaqRow.app_id == app_id, FaqRow.external_id.in_(list(external_ids))
                    )
                ).all()
            )

    def add_segments(
        self, document: DocumentRecord, drafts: Sequence[SegmentDraft]
    ) -> list[SegmentRecord]:
        """Append segments: chunks after the last one, or new FAQ entries."""
        now = utcnow()
        with Session(self._engine) as session, session.begin():
            added: list[SegmentRecord] = []
            if document.kind == "faq":
                existing = session.scalar(
                    select(func.count()).where(FaqRow.document_id == document.id)
                )
                for offset, draft in enumerate(drafts, 1):
                    row = FaqRow(
                        id=new_id(),
                        app_id=document.app_id,
                        document_id=document.id,
                        external_id=new_id(),
                        question=draft.content,
                        variants=list(draft.variants),
                        answer=draft.answer,
                        created_at=now,
                    )
                    session.add(row)
                    added.append(_faq_segment(row, int(existing or 0) + offset))
            else:
                last = session.scalar(
                    select(func.max(ChunkRow.position)).where(ChunkRow.document_id == document.id)
                )
                position = -1 if last is None else int(last)
                for draft in drafts:
                    position += 1
                    chunk = ChunkRow(
                        id=new_id(),
                        app_id=document.app_id,
                        document_id=document.id,
                        position=position,
                        heading="",
                        content=draft.content,
                    )
                    session.add(chunk)
                    added.append(_chunk_segment(chunk))
            self._touch(session, document)
            return added

    def update_segment(
        self, document: DocumentRecord, segment_id: str, draft: SegmentDraft
    ) -> SegmentRecord | None:
        with Session(self._engine) as session, session.begin():
            if document.kind == "faq":
                faq = session.scalar(
                    select(FaqRow).where(FaqRow.document_id == document.id, FaqRow.id == segment_id)
                )
                if faq is None:
                    return None
                faq.question = draft.content
                faq.answer = draft.answer or faq.answer
                updated = _faq_segment(faq, 0)
            else:
                chunk = session.scalar(
                    select(ChunkRow).where(
                        ChunkRow.document_id == document.id, ChunkRow.id == segment_id
                    )
                )
                if chunk is None:
                    return None
                chunk.content = draft.content
                updated = _chunk_segment(chunk)
            self._touch(session, document)
            return updated

    def delete_segment(self, document: DocumentRecord, segment_id: str) -> bool:
        model = FaqRow if document.kind == "faq" else ChunkRow
        with Session(self._engine) as session, session.begin():
            deleted = session.execute(
                delete(model).where(model.document_id == document.id, model.id == segment_id)
            )
            if not getattr(deleted, "rowcount", 0):
                return False
            self._touch(session, document)
            return True

    # --- helpers -------------------------------------------------------------------------

    @staticmethod
    def _touch(session: Session, document: DocumentRecord) -> None:
        """A document's segments changed: bump the revision and remember it on the document."""
        revision = KnowledgeRepository.bump_revision(session, document.app_id)
        row = session.get(DocumentRow, document.id)
        if row is not None:
            row.revision, row.updated_at = revision, utcnow()

    @staticmethod
    def _dataset(row: DatasetRow, documents: int, words: int) -> DatasetRecord:
        return DatasetRecord(
            id=row.id,
            app_id=row.app_id,
            name=row.name,
            description=row.description,
            document_count=documents,
            word_count=words,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )

    def _counts(
        self, session: Session, app_id: str, dataset_ids: Sequence[str | None]
    ) -> dict[str | None, tuple[int, int]]:
        """Per dataset: (documents, characters)."""
        counts: dict[str | None, tuple[int, int]] = {}
        for dataset_id in dataset_ids:
            ids = list(
                session.scalars(
                    select(DocumentRow.id).where(
                        DocumentRow.app_id == app_id, _in_dataset(dataset_id)
                    )
                )
            )
            words = sum(self._word_counts(session, ids).values())
            counts[dataset_id] = (len(ids), words)
        return counts

    @staticmethod
    def _word_counts(session: Session, document_ids: Sequence[str]) -> dict[str, int]:
        if not document_ids:
            return {}
        ids = list(document_ids)
        counts: dict[str, int] = dict.fromkeys(ids, 0)
        for document_id, size in session.execute(
            select(ChunkRow.document_id, func.sum(func.length(ChunkRow.content)))
            .where(ChunkRow.document_id.in_(ids))
            .group_by(ChunkRow.document_id)
        ).all():
            counts[document_id] += int(size or 0)
        for document_id, size in session.execute(
            select(
                FaqRow.document_id,
                func.sum(func.length(FaqRow.question) + func.length(FaqRow.answer)),
            )
            .where(FaqRow.document_id.in_(ids))
            .group_by(FaqRow.document_id)
        ).all():
            if document_id is not None:
                counts[document_id] += int(size or 0)
        return counts

    @staticmethod
    def _document_sizes(session: Session, document_ids: Sequence[str]) -> dict[str, int]:
        """Segments per document (chunks or FAQ entries)."""
        if not document_ids:
            return {}
        ids = list(document_ids)
        sizes = dict(
            session.execute(
                select(ChunkRow.document_id, func.count())
                .where(ChunkRow.document_id.in_(ids))
                .group_by(ChunkRow.document_id)
            ).all()
        )
        for document_id, count in session.execute(
            select(FaqRow.document_id, func.count())
            .where(FaqRow.document_id.in_(ids))
            .group_by(FaqRow.document_id)
        ).all():
            if document_id is not None:
                sizes[document_id] = sizes.get(document_id, 0) + count
        return sizes
