"""Find text that YAML silently cut at a ``#``.

In YAML, `` #`` after a plain (unquoted) value starts a comment, so
``zh: 请提供订单号（以 #W 开头）`` loads as ``请提供订单号（以``. Customers then read half a
sentence and nothing fails. PyYAML drops comments without a trace, so this walks its token
stream: a plain scalar followed on the same line by ``#`` with no space after it (``#W``,
``#1``) is almost certainly cut text, while a real comment is written ``  # like this``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

__all__ = ["CutValue", "find_cut_values"]

_CUT = re.compile(r"[ \t]+#(?=\S)")


@dataclass(frozen=True, slots=True)
class CutValue:
    """A plain value that ends where a ``#`` comment begins on the same line."""

    line: int  # 1-based
    kept: str  # what YAML loads
    lost: str  # what it dropped as a comment

    def describe(self) -> str:
        return (
            f"line {self.line}: the value {self.kept!r} is cut at '#' ({self.lost!r} is "
            "read as a YAML comment); put the whole value in quotes"
        )


def find_cut_values(text: str) -> list[CutValue]:
    """Plain scalars that look cut by a ``#`` comment, in file order (as far as it parses)."""
    lines = text.splitlines()
    found: list[CutValue] = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if not isinstance(token, yaml.ScalarToken) or not token.plain:
                continue
            end = token.end_mark
            if end.line >= len(lines):
                continue
            rest = lines[end.line][end.column :]
            if _CUT.match(rest):
                found.append(CutValue(end.line + 1, token.value, rest.strip()))
    except yaml.YAMLError:
        return found  # the loader reports the syntax error itself
    return found
