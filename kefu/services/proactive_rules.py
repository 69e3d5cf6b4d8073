"""Whether an event meets a proactive rule's conditions, and what an event may carry.

Pure functions over the event's name and properties: no store, no clock (the counts over a
window and the cool-down are the service's, :mod:`kefu.services.proactive`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson

from kefu.appfile.proactive_config import ProactiveRule, PropertyCondition
from kefu.core.errors import InvalidParam, TooLarge
from kefu.safety import has_control_chars

__all__ = [
    "MAX_DEPTH",
    "MAX_KEYS",
    "MAX_PROPERTIES_BYTES",
    "check_properties",
    "event_path",
    "matches",
]

MAX_PROPERTIES_BYTES = 4096
MAX_DEPTH = 4  # properties → {"cart": {"items": [{"sku": …}]}}
MAX_KEYS = 32  # per object
MAX_KEY_CHARS = 64
MAX_STRING_CHARS = 2048  # a long URL fits


def check_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """An event's properties as they may be matched: a small JSON object (at most
    ``MAX_PROPERTIES_BYTES`` as JSON → 413; ``MAX_DEPTH`` levels of objects and lists,
    ``MAX_KEYS`` entries in each, no control characters in keys or text → 400, as ids and
    names elsewhere)."""
    try:
        size = len(orjson.dumps(properties))
    except orjson.JSONEncodeError as exc:  # an integer past 64 bits
        raise InvalidParam(f"properties cannot be read: {exc}") from None
    if size > MAX_PROPERTIES_BYTES:
        raise TooLarge(f"properties are larger than {MAX_PROPERTIES_BYTES} bytes as JSON")
    _check(properties, "properties", 1)
    return properties


def _check(value: Any, where: str, depth: int) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise InvalidParam(f"{where} is longer than {MAX_STRING_CHARS} characters")
        if has_control_chars(value):
            raise InvalidParam(f"{where} must not contain control characters")
        return
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise InvalidParam(f"{where} is nested deeper than {MAX_DEPTH} levels")
        if len(value) > MAX_KEYS:
            raise InvalidParam(f"{where} has more than {MAX_KEYS} entries")
    if isinstance(value, dict):
        for key, item in value.items():
            if not key or len(key) > MAX_KEY_CHARS or has_control_chars(key):
                raise InvalidParam(
                    f"{where}: keys are 1-{MAX_KEY_CHARS} characters without control characters"
                )
            _check(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{where}.{index}", depth + 1)


def event_path(properties: dict[str, Any]) -> str | None:
    """The page the event happened on: the ``path`` property, else the path of ``url``."""
    path = properties.get("path")
    if isinstance(path, str) and path:
        return path
    url = properties.get("url")
    if isinstance(url, str) and url:
        try:
            return urlsplit(url).path or "/"
        except ValueError:  # not a URL (an unclosed IPv6 bracket…)
            return None
    return None


def matches(rule: ProactiveRule, event: str, properties: dict[str, Any]) -> bool:
    """Whether one event meets the rule's conditions (its count is the service's)."""
    if rule.event != event:
        return False
    conditions = rule.conditions
    if conditions.path_prefix is not None or conditions.path_regex is not None:
        path = event_path(properties)
        if path is None:
            return False
        if conditions.path_prefix is not None and not path.startswith(conditions.path_prefix):
            return False
        if conditions.path_regex is not None and not _regex(conditions.path_regex).search(path):
            return False
    if conditions.url_contains is not None:
        url = properties.get("url")
        if not isinstance(url, str) or conditions.url_contains not in url:
            return False
    return all(
        _holds(test, _lookup(properties, name)) for name, test in conditions.properties.items()
    )


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_MISSING = object()


def _lookup(properties: dict[str, Any], name: str) -> Any:
    """``a.b`` reaches ``{"a": {"b": …}}``; a name with a dot of its own is tried first."""
    if name in properties:
        return properties[name]
    value: Any = properties
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # "199.00" from a page's data attribute
        except ValueError:
            return None
    return None


def _same(expected: Any, value: Any) -> bool:
    """Equality that keeps ``true`` and ``1`` apart; 2 equals 2.0."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool) and expected is value
    if isinstance(expected, int | float) and not isinstance(value, str):
        return isinstance(value, int | float) and float(expected) == float(value)
    return bool(expected == value)


def _holds(test: PropertyCondition, value: Any) -> bool:
    present = value is not _MISSING
    if test.exists is not None and test.exists != present:
        return False
    if not present:  # only "absent" and "not equal to x" hold for a missing property
        return _tests(test) - {"exists"} <= {"not_equals"}
    if test.equals is not None and not _same(test.equals, value):
        return False
    if test.not_equals is not None and _same(test.not_equals, value):
        return False
    if test.contains is not None and not (isinstance(value, str) and test.contains in value):
        return False
    bounds = (("gt", test.gt), ("gte", test.gte), ("lt", test.lt), ("lte", test.lte))
    if any(bound is not None for _, bound in bounds):
        number = _number(value)
        if number is None:
            return False
        for name, bound in bounds:
            if bound is None:
                continue
            if name == "gt" and not number > bound:
                return False
            if name == "gte" and not number >= bound:
                return False
            if name == "lt" and not number < bound:
                return False
            if name == "lte" and not number <= bound:
                return False
    return True


def _tests(test: PropertyCondition) -> set[str]:
    return {name for name in test.model_fields_set if getattr(test, name) is not None}
