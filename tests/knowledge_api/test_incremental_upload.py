"""An upload into a knowledge base with N documents parses, tokenizes and embeds only the
upload: the other N-1 documents are neither parsed nor re-indexed from scratch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import kefu.knowledge._chunk_tokens as chunk_tokens
import kefu.services.dataset_ingest as dataset_ingest
import kefu.services.knowledge_sync as knowledge_sync
from kefu.services.knowledge_sync import import_paths
from kefu.services.registry import reload_knowledge
from kefu.services.runtime import Runtime
from tests.knowledge_api.conftest import new_dataset, wait_completed
from tests.knowledge_api.test_documents import upload

TOPICS = ("descaling the kettle", "cleaning the filter", "replacing the lid", "storing the cord")


def _document(topic: str) -> bytes:
    return (
        f"# {topic.title()}\n\nA guide to {topic}: do it monthly, with care, and rinse twice.\n"
    ).encode()


def _recording(calls: list[Any], function: Callable[..., Any]) -> Callable[..., Any]:
    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return function(*args, **kwargs)

    return recorded


async def test_an_upload_parses_and_indexes_only_itself(
    kb: httpx.AsyncClient, kb_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = kb_runtime.apps.get("tiny")
    dataset = await new_dataset(kb)
    for topic in TOPICS[:-1]:
        created = (await upload(kb, dataset, f"{topic}.md", _document(topic))).json()
        await wait_completed(kb, dataset, created["batch"])
    before = app.index.chunk_count

    parsed: list[Any] = []
    tokenized: list[Any] = []
    monkeypatch.setattr(
        dataset_ingest, "parse_document", _recording(parsed, dataset_ingest.parse_document)
    )
    monkeypatch.setattr(chunk_tokens, "tokenize", _recording(tokenized, chunk_tokens.tokenize))
    created = (await upload(kb, dataset, "storing.md", _document(TOPICS[-1]))).json()
    await wait_completed(kb, dataset, created["batch"])

    assert len(parsed) == 1  # the upload, not the three documents already there
    assert len(tokenized) == 1 and "storing the cord" in tokenized[0]
    report = app.index.last_build
    assert report is not None and not report.loaded
    assert report.tokenized == 1 and report.embedded == 0  # no new FAQ form or passage
    assert report.chunks == before + 1 == app.index.chunk_count
    hits = app.index.search("storing the cord", top_k=1)
    assert hits and "storing the cord" in hits[0].chunk.content.lower()


async def test_deleting_a_document_reindexes_without_tokenizing(
    kb: httpx.AsyncClient, kb_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = kb_runtime.apps.get("tiny")
    dataset = await new_dataset(kb)
    ids = []
    for topic in TOPICS:
        created = (await upload(kb, dataset, f"{topic}.md", _document(topic))).json()
        await wait_completed(kb, dataset, created["batch"])
        ids.append(created["document"]["id"])
    tokenized: list[Any] = []
    monkeypatch.setattr(chunk_tokens, "tokenize", _recording(tokenized, chunk_tokens.tokenize))
    deleted = await kb.delete(f"/v1/datasets/{dataset}/documents/{ids[0]}")
    assert deleted.status_code == 204
    await kb_runtime.datasets.wait_indexed(app)
    assert tokenized == []
    report = app.index.last_build
    assert report is not None and (report.tokenized, report.embedded) == (0, 0)
    assert not any("descaling" in h.chunk.content for h in app.index.search("descaling", 10))


def test_kb_import_parses_only_changed_files(
    kb_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = kb_runtime.apps.get("tiny"), kb_runtime.store
    folder = tmp_path / "guides"
    folder.mkdir()
    for number, topic in enumerate(TOPICS):
        (folder / f"guide-{number}.md").write_bytes(_document(topic))
    first = import_paths(store, app.id, app.config, [folder])
    assert [r.changed for r in first] == [True] * len(TOPICS)
    reload_knowledge(app, store)

    parsed: list[Any] = []
    monkeypatch.setattr(
        knowledge_sync, "read_document", _recording(parsed, knowledge_sync.read_document)
    )
    again = import_paths(store, app.id, app.config, [folder])
    assert parsed == [] and not any(r.changed for r in again)
    assert [r.items for r in again] == [r.items for r in first]
    assert reload_knowledge(app, store) is None  # nothing changed: no build

    edited = folder / "guide-1.md"
    edited.write_bytes(_document("cleaning the filter with warm soapy water"))
    third = import_paths(store, app.id, app.config, [folder])
    assert parsed == [edited]
    assert [r.changed for r in third] == [False, True, False, False]
    report = reload_knowledge(app, store)
    assert report is not None and report.tokenized == 1
    assert "soapy water" in app.index.search("warm soapy water", 1)[0].chunk.content
