"""Annotations (curated question → answer pairs) and each app's annotation-reply setting."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.orm import Session

from kefu.core.ids import new_id, utcnow
from kefu.core.records import AnnotationRecord, AnnotationSettings
from kefu.store.db import as_utc
from kefu.store.knowledge import KnowledgeRepository
from kefu.store.models import AnnotationRow, AnnotationSettingRow

__all__ = ["AnnotationRepository"]


def _annotation(row: AnnotationRow) -> AnnotationRecord:
    return AnnotationRecord(
        id=row.id,
        app_id=row.app_id,
        question=row.question,
        answer=row.answer,
        hit_count=row.hit_count,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class AnnotationRepository:
    """Every change but a hit bumps the app's knowledge revision: routing decisions cached
    by any process depend on the annotations."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_page(
        self, app_id: str, page: int, limit: int, keyword: str | None = None
    ) -> tuple[list[AnnotationRecord], int]:
        """One page, newest first, and how many match."""
        where = [AnnotationRow.app_id == app_id]
        if keyword:
            where.append(
                or_(
                    AnnotationRow.question.icontains(keyword, autoescape=True),
                    AnnotationRow.answer.icontains(keyword, autoescape=True),
                )
            )
        with Session(self._engine) as session:
            total = session.scalar(select(func.count()).select_from(AnnotationRow).where(*where))
            rows = session.scalars(
                select(AnnotationRow)
                .where(*where)
                .order_by(AnnotationRow.created_at.desc(), AnnotationRow.id.desc())
                .offset((page - 1) * limit)
                .limit(limit)
            )
            return [_annotation(row) for row in rows], int(total or 0)

    def all(self, app_id: str) -> list[AnnotationRecord]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(AnnotationRow)
                .where(AnnotationRow.app_id == app_id)
                .order_by(AnnotationRow.created_at, AnnotationRow.id)
            )
            return [_annotation(row) for row in rows]

    def create(self, app_id: str, question: str, answer: str) -> AnnotationRecord:
        now = utcnow()
        row = AnnotationRow(
            id=new_id(),
            app_id=app_id,
            question=question,
            answer=answer,
            hit_count=0,
            created_at=now,
            updated_at=now,
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            KnowledgeRepository.bump_revision(session, app_id)
            session.flush()
            return _annotation(row)

    def update(
        self, app_id: str, annotation_id: str, question: str, answer: str
    ) -> AnnotationRecord | None:
        with Session(self._engine) as session, session.begin():
            row = session.scalar(
                select(AnnotationRow).where(
                    AnnotationRow.app_id == app_id, AnnotationRow.id == annotation_id
                )
            )
            if row is None:
                return None
            row.question, row.answer, row.updated_at = question, answer, utcnow()
            KnowledgeRepository.bump_revision(session, app_id)
            session.flush()
            return _annotation(row)

    def delete(self, app_id: str, annotation_id: str) -> bool:
        with Session(self._engine) as session, session.begin():
            deleted = session.execute(
                delete(AnnotationRow).where(
                    AnnotationRow.app_id == app_id, AnnotationRow.id == annotation_id
                )
            )
            if not getattr(deleted, "rowcount", 0):
                return False
            KnowledgeRepository.bump_revision(session, app_id)
            return True

    def add_hit(self, app_id: str, annotation_id: str) -> None:
        """Count one direct answer (no revision bump: routing does not depend on it)."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(AnnotationRow)
                .where(AnnotationRow.app_id == app_id, AnnotationRow.id == annotation_id)
                .values(hit_count=AnnotationRow.hit_count + 1)
            )

    def settings(self, app_id: str) -> AnnotationSettings:
        with Session(self._engine) as session:
            row = session.get(AnnotationSettingRow, app_id)
            if row is None:
                return AnnotationSettings()
            return AnnotationSettings(
                enabled=row.enabled,
                score_threshold=row.score_threshold,
                embedding_provider_name=row.embedding_provider_name,
                embedding_model_name=row.embedding_model_name,
                job_id=row.job_id,
            )

    def save_settings(self, app_id: str, settings: AnnotationSettings) -> AnnotationSettings:
        """Store the setting under a new job id (what the status endpoint asks about)."""
        job_id = new_id()
        with Session(self._engine) as session, session.begin():
            row = session.get(AnnotationSettingRow, app_id)
            if row is None:
                row = AnnotationSettingRow(app_id=app_id)
                session.add(row)
            row.enabled = settings.enabled
            row.score_threshold = settings.score_threshold
            row.embedding_provider_name = settings.embedding_provider_name
            row.embedding_model_name = settings.embedding_model_name
            row.job_id = job_id
            row.updated_at = utcnow()
            KnowledgeRepository.bump_revision(session, app_id)
        return AnnotationSettings(
            enabled=settings.enabled,
            score_threshold=settings.score_threshold,
            embedding_provider_name=settings.embedding_provider_name,
            embedding_model_name=settings.embedding_model_name,
            job_id=job_id,
        )
