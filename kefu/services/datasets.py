"""The knowledge API's model: an app's datasets, their documents and segments, retrieval.

Each app has datasets — named groups of documents — and all of them feed the app's one
index, so the bot answers from every dataset. The *default dataset* has the app's id and
name and holds what the app's YAML names and ``kefu kb import`` adds; it cannot be deleted.
A dataset key (``dataset-…``) belongs to one app and manages that app's datasets.

Uploads are parsed, split and stored before the call returns (a bad file is a 400 then);
the index reloads in the background (:class:`IndexRefresher`). A document's indexing status
is ``completed`` once this process's index has loaded the knowledge revision that wrote it,
so it never claims what retrieval cannot yet find.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from anyio import to_thread

from kefu.core.errors import Forbidden, InvalidParam, NotFound
from kefu.core.ids import is_id, new_id
from kefu.core.records import DatasetRecord, DocumentRecord, SegmentDraft, SegmentRecord
from kefu.core.types import ChunkHit, FaqHit
from kefu.engine.app import AppRuntime
from kefu.services.dataset_ingest import ParsedUpload, parse_upload, process_rule
from kefu.services.registry import reload_knowledge
from kefu.store import Store

__all__ = ["DatasetService", "IndexRefresher", "RetrievedSegment"]

log = logging.getLogger(__name__)
DEFAULT_DESCRIPTION = "The app's own knowledge: the sources in its YAML and kefu kb import."
FAQ_POOL = 50  # FAQ candidates looked at before keeping those of the dataset
MAX_SEGMENTS_PER_CALL = 100


@dataclass(frozen=True, slots=True)
class RetrievedSegment:
    """A retrieval hit as the knowledge API shows it."""

    segment: SegmentRecord
    document_name: str
    score: float


class IndexRefresher:
    """Reloads an app's index off the request path, one reload at a time per app; a change
    that lands during a reload gets one more, so the last change is never missed."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def schedule(self, app: AppRuntime) -> None:
        loop = asyncio.get_running_loop()
        task = self._running.get(app.id)
        if task is not None and not task.done() and task.get_loop() is loop:
            self._again.add(app.id)
            return
        self._running[app.id] = loop.create_task(self._reload(app))

    async def wait(self, app: AppRuntime) -> None:
        """Until the reloads scheduled so far have finished."""
        task = self._running.get(app.id)
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            await asyncio.shield(task)

    async def _reload(self, app: AppRuntime) -> None:
        while True:
            self._again.discard(app.id)
            try:
                await to_thread.run_sync(reload_knowledge, app, self._store)
            except Exception:  # the server's knowledge watcher retries every few seconds
                log.exception("app %s: reloading the knowledge index failed", app.name)
            if app.id not in self._again:
                return


class DatasetService:
    """Datasets, documents, segments and hit testing for the knowledge API."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.refresher = IndexRefresher(store)

    # --- datasets ------------------------------------------------------------------------

    async def list_datasets(
        self, app: AppRuntime, page: int, limit: int
    ) -> tuple[list[DatasetRecord], int]:
        """The default dataset first, then the others, newest first."""
        offset = (page - 1) * limit
        start = max(offset - 1, 0)
        wanted = limit - 1 if offset == 0 else limit
        found, total = await to_thread.run_sync(
            self._store.datasets.list_page, app.id, start, wanted
        )
        if offset == 0:
            found = [await self._default(app), *found]
        return found, total + 1

    async def create_dataset(self, app: AppRuntime, name: str, description: str) -> DatasetRecord:
        name = name.strip()
        if not name:
            raise InvalidParam("name must not be empty")
        if name == app.name:
            raise InvalidParam(f"{name!r} is the name of the app's default dataset")
        return await to_thread.run_sync(self._store.datasets.create, app.id, name, description)

    async def get_dataset(self, app: AppRuntime, dataset_id: str) -> DatasetRecord:
        if dataset_id == app.id:
            return await self._default(app)
        found = None
        if is_id(dataset_id):
            found = await to_thread.run_sync(self._store.datasets.get, app.id, dataset_id)
        if found is None:
            raise NotFound("Dataset not found.")
        return found

    async def delete_dataset(self, app: AppRuntime, dataset_id: str) -> None:
        if dataset_id == app.id:
            raise Forbidden("the app's default dataset cannot be deleted")
        await self.get_dataset(app, dataset_id)
        await to_thread.run_sync(self._store.datasets.delete, app.id, dataset_id)
        self.refresher.schedule(app)

    async def _default(self, app: AppRuntime) -> DatasetRecord:
        documents, words, created = await to_thread.run_sync(
            self._store.datasets.default_summary, app.id
        )
        return DatasetRecord(
            app.id, app.id, app.name, DEFAULT_DESCRIPTION, documents, words, created, created
        )

    # --- documents -----------------------------------------------------------------------

    async def add_text(
        self,
        app: AppRuntime,
        dataset_id: str,
        name: str,
        text: str,
        rule: Mapping[str, Any] | None,
    ) -> tuple[DocumentRecord, str]:
        """Store pasted text as a document; its id and the batch to ask the status of."""
        await self.get_dataset(app, dataset_id)
        settings = process_rule(app.config.knowledge, rule)
        parsed = await to_thread.run_sync(
            lambda: parse_upload(name, text.encode("utf-8"), settings, text=True)
        )
        return await self._store_upload(app, dataset_id, parsed)

    async def add_file(
        self,
        app: AppRuntime,
        dataset_id: str,
        filename: str,
        data: bytes,
        rule: Mapping[str, Any] | None,
    ) -> tuple[DocumentRecord, str]:
        """Store an uploaded file; a file of the same name in the dataset is replaced."""
        await self.get_dataset(app, dataset_id)
        settings = process_rule(app.config.knowledge, rule)
        parsed = await to_thread.run_sync(lambda: parse_upload(filename, data, settings))
        return await self._store_upload(app, dataset_id, parsed)

    async def replace(
        self,
        app: AppRuntime,
        dataset_id: str,
        document_id: str,
        name: str | None,
        data: bytes,
        rule: Mapping[str, Any] | None,
        *,
        text: bool,
    ) -> tuple[DocumentRecord, str]:
        """New content for a document (update-by-text / update-by-file), keeping its id."""
        document = await self.get_document(app, dataset_id, document_id)
        settings = process_rule(app.config.knowledge, rule)
        parsed = await to_thread.run_sync(
            lambda: parse_upload(name or document.name, data, settings, text=text)
        )
        return await self._store_upload(app, dataset_id, parsed, source=document.source)

    async def _store_upload(
        self, app: AppRuntime, dataset_id: str, parsed: ParsedUpload, source: str | None = None
    ) -> tuple[DocumentRecord, str]:
        dataset = await self.get_dataset(app, dataset_id)
        batch = new_id().replace("-", "")
        meta = {**parsed.meta, "batch": batch, "created_from": "api"}
        document, changed = await to_thread.run_sync(
            lambda: self._store.knowledge.save_document(
                app.id,
                source=source or f"api:{dataset.id}/{parsed.name}",
                name=parsed.name,
                origin="api",
                content_hash=parsed.content_hash,
                meta=meta,
                chunks=parsed.chunks,
                faqs=parsed.faqs,
                dataset_id=None if dataset.id == app.id else dataset.id,
            )
        )
        if not changed:  # the same file again: nothing to index, its batch still answers
            return document, str(document.meta.get("batch", batch))
        self.refresher.schedule(app)
        return document, batch

    async def word_counts(self, documents: list[DocumentRecord]) -> dict[str, int]:
        """Characters of each document's segments."""
        ids = [d.id for d in documents]
        return await to_thread.run_sync(self._store.datasets.word_counts, ids)

    def indexing_status(self, app: AppRuntime, document: DocumentRecord) -> str:
        """``completed`` once this process's index holds the document as it is now."""
        return "completed" if app.knowledge_revision >= document.revision else "indexing"

    async def batch(self, app: AppRuntime, dataset_id: str, batch: str) -> list[DocumentRecord]:
        documents, _ = await self.list_documents(app, dataset_id, 1, 100_000, None)
        found = [d for d in documents if d.meta.get("batch") == batch]
        if not found:
            raise NotFound("Documents not found.")
        return found

    async def list_documents(
        self, app: AppRuntime, dataset_id: str, page: int, limit: int, keyword: str | None
    ) -> tuple[list[DocumentRecord], int]:
        dataset = await self.get_dataset(app, dataset_id)
        stored_id = None if dataset.id == app.id else dataset.id
        return await to_thread.run_sync(
            lambda: self._store.datasets.documents(
                app.id, stored_id, page=page, limit=limit, keyword=keyword or None
            )
        )

    async def get_document(
        self, app: AppRuntime, dataset_id: str, document_id: str
    ) -> DocumentRecord:
        dataset = await self.get_dataset(app, dataset_id)
        document = None
        if is_id(document_id):
            document = await to_thread.run_sync(self._store.datasets.document, app.id, document_id)
        stored_id = None if dataset.id == app.id else dataset.id
        if document is None or document.dataset_id != stored_id:
            raise NotFound("Document not found.")
        return document

    async def delete_document(self, app: AppRuntime, dataset_id: str, document_id: str) -> None:
        document = await self.get_document(app, dataset_id, document_id)
        await to_thread.run_sync(self._store.knowledge.delete_document, app.id, document.id)
        self.refresher.schedule(app)

    # --- segments ------------------------------------------------------------------------

    async def list_segments(
        self,
        app: AppRuntime,
        dataset_id: str,
        document_id: str,
        page: int,
        limit: int,
        keyword: str | None,
    ) -> tuple[DocumentRecord, list[SegmentRecord], int]:
        document = await self.get_document(app, dataset_id, document_id)
        segments, total = await to_thread.run_sync(
            lambda: self._store.datasets.segments(
                document, page=page, limit=limit, keyword=keyword or None
            )
        )
        return document, segments, total

    async def add_segments(
        self, app: AppRuntime, dataset_id: str, document_id: str, drafts: list[SegmentDraft]
    ) -> tuple[DocumentRecord, list[SegmentRecord]]:
        document = await self.get_document(app, dataset_id, document_id)
        if not drafts or len(drafts) > MAX_SEGMENTS_PER_CALL:
            raise InvalidParam(f"give 1 to {MAX_SEGMENTS_PER_CALL} segments")
        for draft in drafts:
            _check_segment(document, draft)
        added = await to_thread.run_sync(self._store.datasets.add_segments, document, drafts)
        self.refresher.schedule(app)
        return document, added

    async def update_segment(
        self,
        app: AppRuntime,
        dataset_id: str,
        document_id: str,
        segment_id: str,
        draft: SegmentDraft,
    ) -> tuple[DocumentRecord, SegmentRecord]:
        document = await self.get_document(app, dataset_id, document_id)
        _check_segment(document, draft, updating=True)
        updated = None
        if is_id(segment_id):
            updated = await to_thread.run_sync(
                self._store.datasets.update_segment, document, segment_id, draft
            )
        if updated is None:
            raise NotFound("Segment not found.")
        self.refresher.schedule(app)
        return document, updated

    async def delete_segment(
        self, app: AppRuntime, dataset_id: str, document_id: str, segment_id: str
    ) -> None:
        document = await self.get_document(app, dataset_id, document_id)
        deleted = is_id(segment_id) and await to_thread.run_sync(
            self._store.datasets.delete_segment, document, segment_id
        )
        if not deleted:
            raise NotFound("Segment not found.")
        self.refresher.schedule(app)

    # --- retrieval -----------------------------------------------------------------------

    async def retrieve(
        self,
        app: AppRuntime,
        dataset_id: str,
        query: str,
        top_k: int,
        score_threshold: float | None,
    ) -> list[RetrievedSegment]:
        """Hit testing: the dataset's best FAQ entries and passages for ``query``, best
        first, scored by relevance in [0, 1] (what the app's thresholds compare)."""
        query = query.strip()
        if not query:
            raise InvalidParam("query must not be empty")
        dataset = await self.get_dataset(app, dataset_id)
        stored_id = None if dataset.id == app.id else dataset.id
        ids = await to_thread.run_sync(self._store.datasets.document_ids, app.id, stored_id)
        if not ids:
            return []
        index = app.index

        def search() -> tuple[list[FaqHit], list[ChunkHit]]:
            wanted = set(ids)
            faqs = [h for h in index.match_faq(query, FAQ_POOL) if h.entry.document_id in wanted]
            return faqs[:top_k], index.search(query, top_k, filters={"document_id": ids})

        faq_hits, passages = await to_thread.run_sync(search)
        segment_ids = await to_thread.run_sync(
            self._store.datasets.faq_segment_ids, app.id, [h.entry.id for h in faq_hits]
        )
        found = [
            RetrievedSegment(
                SegmentRecord(
                    id=segment_ids.get(hit.entry.id, hit.entry.id),
                    document_id=hit.entry.document_id or "",
                    position=0,
                    content=hit.entry.question,
                    answer=hit.entry.answer,
                    variants=hit.entry.variants,
                ),
                hit.entry.document_name,
                hit.relevance,
            )
            for hit in faq_hits
        ]
        found += [
            RetrievedSegment(
                SegmentRecord(
                    id=hit.chunk.id,
                    document_id=hit.chunk.document_id,
                    position=hit.chunk.position,
                    content=hit.chunk.content,
                    heading=hit.chunk.heading,
                ),
                hit.chunk.document_name,
                hit.relevance,
            )
            for hit in passages
        ]
        found.sort(key=lambda r: r.score, reverse=True)  # stable: FAQ first among equals
        if score_threshold is not None:
            found = [r for r in found if r.score >= score_threshold]
        return found[:top_k]

    async def wait_indexed(self, app: AppRuntime) -> None:
        """Until the index has caught up with the changes made through this service."""
        await self.refresher.wait(app)


def _check_segment(document: DocumentRecord, draft: SegmentDraft, updating: bool = False) -> None:
    if not draft.content.strip():
        raise InvalidParam("segment content must not be empty")
    if document.kind == "faq" and not draft.answer.strip() and not updating:
        raise InvalidParam("a segment of an FAQ document needs an answer (its question is content)")
