"""Uploads are bounded by what they unpack to: a DOCX bomb, a PDF with too many pages and a
document that would become too many chunks are refused with 413 in the envelope, quickly,
and leave nothing behind."""

from __future__ import annotations

import io
import time
import zipfile

import docx
import httpx
import pytest
from pypdf import PdfWriter

from kefu.core.errors import TooLarge
from kefu.knowledge import limits
from kefu.knowledge._convert import docx_to_text, pdf_to_text
from tests.knowledge_api.test_documents import new_dataset, upload


def docx_bytes(paragraph: str = "退货运费说明。", extra: int = 0) -> bytes:
    """A real DOCX; ``extra`` bytes of zeros in one more part (they compress to almost
    nothing: the shape of a decompression bomb)."""
    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph(paragraph)
    document.save(buffer)
    if extra:
        with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("word/media/padding.bin", b"\0" * extra)
    return buffer.getvalue()


def pdf_bytes(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_a_docx_that_unpacks_past_the_limit_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_UNPACKED_BYTES", 4 * 1024 * 1024)
    bomb = docx_bytes(extra=16 * 1024 * 1024)
    assert len(bomb) < 100_000  # small on the wire; 16 MB of padding + the document
    started = time.perf_counter()
    with pytest.raises(TooLarge) as caught:
        docx_to_text(bomb, "bomb.docx")
    assert time.perf_counter() - started < 1.0  # refused from the directory, not unpacked
    assert "bomb.docx: unpacks to 17 MB, more than the 4 MB allowed" in caught.value.message
    text, _ = docx_to_text(docx_bytes(), "fine.docx")  # an ordinary file still reads
    assert "退货运费说明" in text


def test_too_many_pdf_pages_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_PDF_PAGES", 3)
    with pytest.raises(TooLarge) as caught:
        pdf_to_text(pdf_bytes(4), "manual.pdf")
    assert caught.value.message == "manual.pdf: 4 pages, more than the 3 allowed"


def test_parsing_past_its_deadline_is_refused() -> None:
    deadline = limits.Deadline("slow.pdf", seconds=0)
    time.sleep(0.01)
    with pytest.raises(TooLarge, match=r"slow\.pdf: reading it took more than 0 s"):
        deadline.check()


async def test_the_api_answers_413_and_keeps_nothing(
    kb: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_UNPACKED_BYTES", 4 * 1024 * 1024)
    monkeypatch.setattr(limits, "MAX_CHUNKS", 5)
    dataset = await new_dataset(kb)
    bomb = await upload(kb, dataset, "bomb.docx", docx_bytes(extra=16 * 1024 * 1024))
    assert bomb.status_code == 413, bomb.text
    assert bomb.json()["code"] == "request_entity_too_large"
    assert "unpacks to 17 MB" in bomb.json()["message"]
    many = await upload(
        kb, dataset, "long.md", "\n\n".join(f"第{n}条规定。" * 30 for n in range(40)).encode()
    )
    assert many.status_code == 413 and "chunks, more than the 5 allowed" in many.json()["message"]
    listed = (await kb.get(f"/v1/datasets/{dataset}/documents")).json()
    assert listed["total"] == 0
