"""HTML, PDF and DOCX documents become clean text whose headings chunking respects."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from kefu.core.errors import InvalidParam
from kefu.knowledge import (
    clean_text,
    iter_document_files,
    parse_document,
    read_document,
    split_document,
)
from tests.knowledge._pdf import make_pdf

SHOP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>退货政策 - 示例商城</title>
<style>body { color: red }</style><script>var tracking = "不应出现";</script></head>
<body>
<nav><a href="/">首页</a> | <a href="/help">帮助中心</a></nav>
<h1>退货政策</h1>
<p>签收后 7 天内可申请&nbsp;<b>无理由退货</b>。
   商品需保持完好。</p>
<h2>运费</h2>
<p>质量问题由商家承担运费，非质量问题运费 12 元。</p>
<table><tr><th>情形</th><th>运费</th></tr><tr><td>质量问题</td><td>商家承担</td></tr></table>
<ul><li>生鲜不支持</li><li>定制商品不支持</li></ul>
</body></html>
"""


def test_html_headings_become_sections_and_boilerplate_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "returns.html"
    path.write_text(SHOP_PAGE, encoding="utf-8")
    doc = read_document(path)
    assert doc.name == "退货政策 - 示例商城"
    assert doc.metadata["format"] == "html"
    for dropped in ("不应出现", "color", "首页", "帮助中心"):
        assert dropped not in doc.content
    assert "签收后 7 天内可申请 无理由退货。 商品需保持完好。" in doc.content
    assert "情形 | 运费\n质量问题 | 商家承担" in doc.content
    assert "- 生鲜不支持\n- 定制商品不支持" in doc.content

    chunks = split_document(doc, chunk_size=400, overlap=0)
    assert [c.heading for c in chunks] == ["退货政策", "退货政策 > 运费"]
    assert "12 元" in chunks[1].content and "12 元" not in chunks[0].content


def test_html_in_gbk_is_decoded_by_its_meta_charset() -> None:
    page = '<html><head><meta charset="gbk"></head><body><h1>会员</h1><p>积分</p></body></html>'
    doc = parse_document(page.encode("gbk"), "member.htm")
    assert doc.name == "会员" and "积分" in doc.content
    with pytest.raises(InvalidParam, match=r"member\.htm: not valid utf-8 text"):
        parse_document("<p>积分</p>".encode("gbk"), "member.htm")


def test_pdf_text_keeps_pages_as_metadata(tmp_path: Path) -> None:
    path = tmp_path / "manual.pdf"
    path.write_bytes(
        make_pdf(
            [
                ["You may return an item within", "seven days of delivery."],
                ["We ship within 48 hours.", "Remote areas take longer."],
            ],
            title="Shop Manual",
        )
    )
    doc = read_document(path)
    assert doc.name == "Shop Manual"
    assert doc.metadata["format"] == "pdf"
    assert doc.metadata["pages"] == 2
    second = doc.metadata["page_starts"][1]
    # A line the PDF wrapped mid-sentence is joined back; pages are paragraphs.
    assert doc.content.startswith("You may return an item within seven days of delivery.")
    assert doc.content[second:].startswith("We ship within 48 hours.")
    assert split_document(doc, chunk_size=60, overlap=0)[-1].content.endswith("take longer.")


def test_an_encrypted_pdf_names_the_file(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["secret text."]]))))
    writer.encrypt("password", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "locked.pdf"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InvalidParam, match=r"locked\.pdf: the PDF is encrypted"):
        read_document(path)


def test_a_pdf_encrypted_without_a_user_password_is_read() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["open text."]]))))
    writer.encrypt("", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert parse_document(buffer.getvalue(), "open.pdf").content == "open text.\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4\nthis is not a pdf at all", "not a readable PDF"),
        (b"", "not a readable PDF"),
        (make_pdf([[]]), "no text layer"),
    ],
)
def test_a_corrupt_or_empty_pdf_names_the_file(data: bytes, message: str) -> None:
    with pytest.raises(InvalidParam, match=rf"broken\.pdf: .*{message}"):
        parse_document(data, "broken.pdf")


def make_docx() -> bytes:
    document = docx.Document()
    document.core_properties.title = ""
    document.add_heading("会员说明", level=1)
    document.add_paragraph("注册即成为普通会员。")
    document.add_heading("积分", level=2)
    document.add_paragraph("每消费 1 元得 1 积分。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "等级", "折扣"
    table.cell(1, 0).text, table.cell(1, 1).text = "金卡", "95 折"
    document.add_paragraph("积分一年有效。", style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_headings_tables_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "member.docx"
    path.write_bytes(make_docx())
    doc = read_document(path)
    assert doc.name == "会员说明"
    assert doc.metadata["format"] == "docx"
    assert "等级 | 折扣\n金卡 | 95 折" in doc.content
    assert "- 积分一年有效。" in doc.content
    chunks = split_document(doc, chunk_size=400, overlap=0)
    assert [c.heading for c in chunks] == ["会员说明", "会员说明 > 积分"]
    assert "95 折" in chunks[1].content


def test_a_corrupt_docx_names_the_file() -> None:
    with pytest.raises(InvalidParam, match=r"member\.docx: not a readable DOCX file"):
        parse_document(b"PK\x03\x04 not really a zip", "member.docx")


def test_every_format_is_found_when_walking_a_folder(tmp_path: Path) -> None:
    for name in ("a.html", "b.htm", "c.pdf", "d.docx", "e.doc"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.name for p in iter_document_files(tmp_path)]
    assert found == ["a.html", "b.htm", "c.pdf", "d.docx"]


def test_cleaning_collapses_spaces_and_blank_lines() -> None:
    text = "第一段\u3000\u3000内容  有   空格。\u200b\r\n\r\n\r\n\r\n  - 缩进保留\t\n"
    assert clean_text(text) == "第一段 内容 有 空格。\n\n  - 缩进保留\n"
    assert clean_text("   \n\n") == ""


def test_cleaning_removes_urls_and_emails_only_when_asked() -> None:
    text = "详见 https://shop.example.com/help?id=3，或写信给 help@shop.example.com 。"
    assert clean_text(text) == text + "\n"
    cleaned = clean_text(text, remove_urls=True, remove_emails=True)
    assert cleaned == "详见 ，或写信给 。\n"


def test_read_document_passes_cleaning_options(tmp_path: Path) -> None:
    path = tmp_path / "contact.md"
    path.write_text("# 联系\n\n官网 www.shop.example.com 邮箱 a.b@example.cn\n", "utf-8")
    doc = read_document(path, remove_urls=True, remove_emails=True)
    assert doc.content == "# 联系\n\n官网 邮箱\n"
