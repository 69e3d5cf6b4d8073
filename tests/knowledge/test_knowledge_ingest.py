from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kefu.core.errors import InvalidParam
from kefu.core.types import FaqEntry
from kefu.knowledge import (
    content_hash,
    faq_id,
    iter_document_files,
    read_document,
    read_faq_file,
)

FIXTURES = Path(__file__).parent / "fixtures"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --- FAQ: JSONL -------------------------------------------------------------------------


def test_reads_the_fixture_faq(shop_faqs: list[FaqEntry]) -> None:
    assert len(shop_faqs) == 33
    first = shop_faqs[0]
    assert first.id == "zh-ship-time"
    assert first.question == "订单多久发货？"
    assert first.variants == ("什么时候发货", "下单后几天发货", "多久能发货", "发货时间是多久")
    assert first.document_name == "shop_faq.jsonl"


def test_jsonl_with_bom_blank_lines_and_derived_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "faq.jsonl",
        '\ufeff{"question": " 怎么退货 ", "answer": "在订单页申请。"}\n'
        "\n   \n"
        '{"id": 7, "question": "Q2", "answer": "A2", "variants": ["v1", " ", "v2", "v1"]}\n',
    )
    entries = read_faq_file(path)
    assert [entry.id for entry in entries] == [faq_id("怎么退货"), "7"]
    assert entries[0].id == "faq-" + hashlib.sha1("怎么退货".encode()).hexdigest()[:12]
    assert entries[0].question == "怎么退货"
    assert entries[1].variants == ("v1", "v2")
    assert read_faq_file(path) == entries  # derived ids are stable


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: invalid JSON"),
        ('["a list"]', "line 2: expected a JSON object"),
        ('{"question": "Q"}', "line 2: 'answer' is missing or empty"),
        ('{"question": "  ", "answer": "A"}', "line 2: 'question' is missing or empty"),
        ('{"question": "Q", "answer": "A", "variants": "a|b", "id": [1]}', "'id' must be"),
        ('{"question": "Q", "answer": "A", "variants": [1, 2]}', "'variants' must be a list"),
        ('{"question": "Q", "answer": "A", "variants": {"a": 1}}', "'variants' must be a list"),
        ('{"id": "x", "question": "Q2", "answer": "A"}', "line 2: duplicate FAQ id 'x'"),
    ],
)
def test_bad_jsonl_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "faq.jsonl", '{"id": "x", "question": "Q", "answer": "A"}\n' + line)
    with pytest.raises(InvalidParam) as caught:
        read_faq_file(path)
    assert message in caught.value.message
    assert caught.value.message.startswith(f"{path}, line ")


def test_duplicate_questions_without_ids_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.jsonl", '{"question": "Q", "answer": "A"}\n' * 2)
    with pytest.raises(InvalidParam, match=r"line 2: duplicate question \(first on line 1\)"):
        read_faq_file(path)


# --- FAQ: CSV ---------------------------------------------------------------------------


def test_csv_with_variants_bom_and_multiline_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path / "faq.csv",
        "\ufeffid,question,answer,variants\n"
        "ship,订单多久发货,48 小时内发货,什么时候发货|几天发货\n"
        ",,,\n"
        'addr,如何修改收货地址,"在订单页修改,\n发货前有效","怎么改地址\n地址填错了"\n'
        ",How do I return an item?,Use My Orders,\n",
    )
    entries = read_faq_file(path)
    assert [entry.id for entry in entries] == ["ship", "addr", faq_id("How do I return an item?")]
    assert entries[0].variants == ("什么时候发货", "几天发货")
    assert entries[1].answer == "在订单页修改,\n发货前有效"
    assert entries[1].variants == ("怎么改地址", "地址填错了")
    assert entries[2].variants == ()


def test_csv_accepts_chinese_headers_in_any_order(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "答案,问题,相似问题\n48 小时内,多久发货,几天发货\n")
    [entry] = read_faq_file(path)
    assert (entry.question, entry.answer, entry.variants) == (
        "多久发货",
        "48 小时内",
        ("几天发货",),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q,a\nQ,A\n", "line 1: the header has no answer, question column"),
        ("question,answer\nQ,A\n,A2\n", "line 3: 'question' is missing or empty"),
        # The bad row starts on line 3 even though the quoted cell before it spans lines.
        ('question,answer\n"Q\n1",A\nQ2,A2,extra\n', "line 4: 3 cells but the header has 2"),
        ('question,answer\n"Q\n1",A\nQ3,\n', "line 4: 'answer' is missing or empty"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "faq.csv", text)
    with pytest.raises(InvalidParam, match=message):
        read_faq_file(path)


def test_empty_csv_has_no_entries(tmp_path: Path) -> None:
    assert read_faq_file(write(tmp_path / "faq.csv", "")) == []


def test_non_utf8_faq_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "question,answer\n多久发货,两天\n", encoding="gbk")
    with pytest.raises(InvalidParam, match=r"line 2: not UTF-8 text"):
        read_faq_file(path)


def test_unsupported_or_missing_faq_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidParam, match=r"unsupported FAQ file type '\.xlsx'"):
        read_faq_file(tmp_path / "faq.xlsx")
    with pytest.raises(InvalidParam, match=r"missing\.jsonl: no such file"):
        read_faq_file(tmp_path / "missing.jsonl")


# --- documents ----------------------------------------------------------------------------


def test_markdown_is_named_by_its_title() -> None:
    path = FIXTURES / "docs" / "return_policy.md"
    doc = read_document(path)
    assert doc.name == "退货政策"
    assert doc.metadata == {"path": str(path), "format": "markdown", "title": "退货政策"}
    assert doc.content.startswith("# 退货政策\n")


def test_markdown_title_ignores_code_and_falls_back_to_the_stem(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.markdown", "```\n# a comment\n```\n## Only a sub-heading\n")
    assert read_document(path).name == "notes"


def test_text_documents_are_named_by_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path / "会员说明.txt", "\ufeff# not a title in plain text\n")
    doc = read_document(path)
    assert (doc.name, doc.metadata["format"]) == ("会员说明", "text")
    assert doc.content == "# not a title in plain text\n"


def test_unsupported_document_type(tmp_path: Path) -> None:
    with pytest.raises(InvalidParam, match=r"unsupported document type \(supported: "):
        read_document(write(tmp_path / "manual.xlsx", "PK"))


def test_iter_document_files_walks_folders_sorted(tmp_path: Path) -> None:
    for name in ("b.md", "a/z.txt", "a/c.markdown", "a/skip.xlsx", ".hidden/x.md", "a/.x.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path / name, "text")
    found = iter_document_files(tmp_path)
    assert found == [tmp_path / "a/c.markdown", tmp_path / "a/z.txt", tmp_path / "b.md"]
    assert iter_document_files(tmp_path / "b.md") == [tmp_path / "b.md"]
    with pytest.raises(InvalidParam, match="unsupported document type"):
        iter_document_files(tmp_path / "a/skip.xlsx")
    with pytest.raises(InvalidParam, match="no such file or folder"):
        iter_document_files(tmp_path / "nope")


def test_content_hash_is_sha256_hex() -> None:
    assert content_hash("退货") == hashlib.sha256("退货".encode()).hexdigest()
    assert content_hash("退货") != content_hash("退货 ")
