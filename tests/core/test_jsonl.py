"""The one JSONL reader of FAQ files, intent examples and evaluation queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.core.errors import InvalidParam
from kefu.core.jsonl import read_jsonl


def test_values_with_their_line_numbers_a_bom_and_blank_lines_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes('\ufeff{"text": "多久发货"}\n\n  \n["a", 1]\n'.encode())
    assert read_jsonl(path) == [(1, {"text": "多久发货"}), (4, ["a", 1])]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n{"a": \n', "rows.jsonl, line 2: invalid JSON (Expecting value)"),
        ('{"a": 1}\n{"a": "发"}\n'.encode("gbk"), "rows.jsonl, line 2: not UTF-8 text"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    with pytest.raises(InvalidParam) as caught:
        read_jsonl(path)
    assert caught.value.message == f"{tmp_path}/{message}"


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidParam) as caught:
        read_jsonl(tmp_path / "nope.jsonl")
    assert caught.value.message == f"{tmp_path / 'nope.jsonl'}: no such file"
