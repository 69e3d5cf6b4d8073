"""Reading JSONL files people write by hand or export from Excel: one JSON value a line.

A UTF-8 byte-order mark is tolerated (Excel writes one), blank lines are skipped, and every
error is an :class:`InvalidParam` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kefu.core.errors import InvalidParam

__all__ = ["decode_text", "parse_jsonl", "read_jsonl", "read_text"]


def read_text(path: Path) -> str:
    """The file's text (UTF-8, a BOM tolerated); a missing or unreadable file is one line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidParam(f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidParam(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    return decode_text(data, path)


def decode_text(data: bytes, source: Path | str) -> str:
    """``data`` as UTF-8 text without a BOM; bytes that are not UTF-8 name their line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidParam(f"{source}, line {line}: not UTF-8 text") from None


def parse_jsonl(text: str, source: Path | str) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's JSON value with its line number (from 1), in file order.

    What a value must be is the caller's to check (and to report with the line number).
    """
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidParam(f"{source}, line {number}: invalid JSON ({exc.msg})") from None
        yield number, value


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """Every value of the JSONL file at ``path`` with its line number (see :func:`parse_jsonl`)."""
    return list(parse_jsonl(read_text(path), path))
