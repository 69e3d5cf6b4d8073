"""Shared fixtures: the demo-like shop FAQ and policy documents under ``fixtures/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.core.types import Chunk, FaqEntry
from kefu.knowledge import (
    KnowledgeIndex,
    iter_document_files,
    read_document,
    read_faq_file,
    split_document,
)

FIXTURES = Path(__file__).parent / "fixtures"


def load_chunks(folder: Path) -> list[Chunk]:
    """Chunk every document under ``folder``; chunk ids are ``<file stem>-<position>``."""
    chunks: list[Chunk] = []
    for path in iter_document_files(folder):
        doc = read_document(path)
        for draft in split_document(doc, chunk_size=400, overlap=40):
            chunks.append(
                Chunk(
                    id=f"{path.stem}-{draft.position}",
                    document_id=path.stem,
                    document_name=doc.name,
                    position=draft.position,
                    content=draft.content,
                    heading=draft.heading,
                )
            )
    return chunks


@pytest.fixture(scope="session")
def shop_faqs() -> list[FaqEntry]:
    return read_faq_file(FIXTURES / "shop_faq.jsonl")


@pytest.fixture(scope="session")
def shop_chunks() -> list[Chunk]:
    return load_chunks(FIXTURES / "docs")


@pytest.fixture(scope="session")
def shop_index(shop_faqs: list[FaqEntry], shop_chunks: list[Chunk]) -> KnowledgeIndex:
    index = KnowledgeIndex()
    index.rebuild(shop_faqs, shop_chunks)
    return index
