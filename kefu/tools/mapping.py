"""Response mapping: pick result fields out of a JSON response with JSONPath or a template.

A *singular* path (only names and single indexes: ``$.status``, ``$.items[0].name``) gives one
value or ``None``; any other path (wildcards, slices, filters, ``..``) always gives a list, so a
field's type does not change with how many items an order happens to have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse as parse_jsonpath
from jsonpath_ng.jsonpath import Child, Fields, Index, Root, This

from kefu.appfile.tool_config import Template

__all__ = ["ResponseMapping"]


@dataclass(frozen=True, slots=True)
class _PathField:
    path: JSONPath
    singular: bool


@dataclass(frozen=True, slots=True)
class ResponseMapping:
    """Parsed ``response:`` block of a tool config (already validated at load)."""

    fields: tuple[tuple[str, _PathField | Template], ...]

    @classmethod
    def parse(cls, mapping: Mapping[str, str]) -> ResponseMapping:
        fields: list[tuple[str, _PathField | Template]] = []
        for key, text in mapping.items():
            if text.startswith("$"):
                path = parse_jsonpath(text)
                fields.append((key, _PathField(path, _is_singular(path))))
            else:
                fields.append((key, Template.parse(text)))
        return cls(tuple(fields))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def apply(self, document: Any, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The mapped fields; templates see the path fields first, then the arguments."""
        data: dict[str, Any] = {}
        for key, spec in self.fields:
            if isinstance(spec, _PathField):
                values = [match.value for match in spec.path.find(document)]
                data[key] = (values[0] if values else None) if spec.singular else values
        scope = {**arguments, **data}
        for key, spec in self.fields:
            if isinstance(spec, Template):
                data[key] = "".join(
                    part if isinstance(part, str) else _text(scope.get(part.name))
                    for part in spec.parts
                )
        return data


def _is_singular(path: JSONPath) -> bool:
    if isinstance(path, Root | This):
        return True
    if isinstance(path, Child):
        return _is_singular(path.left) and _is_singular(path.right)
    if isinstance(path, Fields):
        return len(path.fields) == 1 and path.fields[0] != "*"
    if isinstance(path, Index):
        indices = getattr(path, "indices", None)  # older jsonpath-ng: one `index`
        return indices is None or len(indices) == 1
    return False


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(_text(item) for item in value)
    return str(value)
