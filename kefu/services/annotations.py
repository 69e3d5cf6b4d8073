"""Annotations (Dify's curated Q→A): create, edit, list, and the annotation-reply switch.

An annotation answers directly, before any retrieval or model, once annotation reply is
enabled and its question matches the customer's above the reply's ``score_threshold`` (FAQ
relevance, see :mod:`kefu.engine.annotation_book`). Changes take effect in this process
before the call returns; other processes pick them up with the knowledge revision, which
every change bumps (so cached routing decisions are dropped everywhere).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from anyio import to_thread

from kefu.core.errors import NotFound
from kefu.core.ids import is_id
from kefu.core.records import AnnotationRecord, AnnotationSettings
from kefu.engine.app import AppRuntime
from kefu.services.registry import reload_annotations
from kefu.services.validation import required_text
from kefu.store import Store

__all__ = ["AnnotationService", "ReplyAction"]

ReplyAction = Literal["enable", "disable"]
MAX_TEXT_CHARS = 10_000


def _text(field: str, value: str) -> str:
    return required_text(value, field, MAX_TEXT_CHARS)


class AnnotationService:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_page(
        self, app: AppRuntime, page: int, limit: int, keyword: str | None
    ) -> tuple[list[AnnotationRecord], int]:
        return await to_thread.run_sync(
            self._store.annotations.list_page, app.id, page, limit, keyword or None
        )

    async def create(self, app: AppRuntime, question: str, answer: str) -> AnnotationRecord:
        question, answer = _text("question", question), _text("answer", answer)
        record = await to_thread.run_sync(self._store.annotations.create, app.id, question, answer)
        await self._refresh(app)
        return record

    async def update(
        self, app: AppRuntime, annotation_id: str, question: str, answer: str
    ) -> AnnotationRecord:
        question, answer = _text("question", question), _text("answer", answer)
        record = None
        if is_id(annotation_id):
            record = await to_thread.run_sync(
                self._store.annotations.update, app.id, annotation_id, question, answer
            )
        if record is None:
            raise NotFound("Annotation not found.")
        await self._refresh(app)
        return record

    async def delete(self, app: AppRuntime, annotation_id: str) -> None:
        deleted = is_id(annotation_id) and await to_thread.run_sync(
            self._store.annotations.delete, app.id, annotation_id
        )
        if not deleted:
            raise NotFound("Annotation not found.")
        await self._refresh(app)

    async def set_reply(
        self,
        app: AppRuntime,
        action: ReplyAction,
        score_threshold: float | None,
        embedding_provider_name: str | None,
        embedding_model_name: str | None,
    ) -> AnnotationSettings:
        """Turn annotation reply on or off. The embedding names are recorded as given; the
        app's own embedder (if any) is what matches. Done at once: the job is complete."""
        current = await to_thread.run_sync(self._store.annotations.settings, app.id)
        settings = replace(
            current,
            enabled=action == "enable",
            score_threshold=current.score_threshold if score_threshold is None else score_threshold,
            embedding_provider_name=embedding_provider_name,
            embedding_model_name=embedding_model_name,
        )
        saved = await to_thread.run_sync(self._store.annotations.save_settings, app.id, settings)
        await self._refresh(app)
        return saved

    async def reply_job(self, app: AppRuntime, action: ReplyAction, job_id: str) -> str:
        """The status of an enable/disable job: ``completed`` (jobs finish before replying)."""
        settings = await to_thread.run_sync(self._store.annotations.settings, app.id)
        if settings.job_id != job_id or settings.enabled != (action == "enable"):
            raise NotFound("The job does not exist.")
        return "completed"

    async def _refresh(self, app: AppRuntime) -> None:
        await to_thread.run_sync(reload_annotations, app, self._store)
