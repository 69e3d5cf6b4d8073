"""Comparing a turn's expectations with what the turn did: one ``Mismatch`` per failed key.

Traces mask personal data (``s***@example.com``, ``139****5678``) unless the app turns that
off, so an expected value in a tool call's arguments or in the slots also matches its masked
form: a test can write the real e-mail address the customer typed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kefu.cli.conversation_tests.client import Observed
from kefu.cli.conversation_tests.schema import Expect, ToolCallExpect
from kefu.safety.pii import mask_value

__all__ = ["TRACE_KEYS", "Mismatch", "call_text", "check_turn"]

# What only the trace shows (the admin API): without an admin key these cannot be checked.
TRACE_KEYS = ("route", "intent", "flow", "asks", "slots", "tool_calls", "language")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One expectation the turn did not meet."""

    key: str
    expected: Any
    actual: Any
    note: str = ""


def _same(expected: Any, actual: Any) -> bool:
    return bool(expected == actual or mask_value(expected) == actual)


def _subset(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    for key, want in expected.items():
        got = actual.get(key)
        if want is None:
            if got not in (None, ""):
                return False
        elif not _same(want, got):
            return False
    return True


def _call_matches(want: ToolCallExpect, got: dict[str, Any]) -> bool:
    if want.tool != got.get("tool"):
        return False
    if want.outcome is not None and want.outcome != got.get("outcome"):
        return False
    return _subset(want.arguments, dict(got.get("arguments") or {}))


def call_text(tool: Any, arguments: Any, outcome: Any) -> str:
    """A tool call as one readable line: ``cancel_order(order_id="#W1", …) → ok``."""
    args = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in (arguments or {}).items()
    )
    return f"{tool}({args})" + (f" → {outcome}" if outcome else "")


def check_turn(expect: Expect, observed: Observed) -> list[Mismatch]:
    """Every key of ``expect`` that ``observed`` does not meet, in the file's order."""
    found: list[Mismatch] = []
    if observed.trace is None:
        missing = [key for key in TRACE_KEYS if expect.given(key)]
        if missing:
            note = "the trace is needed: give the admin key (--admin-key, env KEFU_ADMIN_KEY)"
            found += [Mismatch(key, getattr(expect, key), None, note) for key in missing]
    else:
        found += _trace_checks(expect, observed)
    if expect.given("handoff") and expect.handoff != observed.handoff:
        found.append(Mismatch("handoff", expect.handoff, observed.handoff))
    answer = observed.answer
    if expect.given("answer") and expect.answer != answer:
        found.append(Mismatch("answer", expect.answer, answer))
    # the answer itself is shown next to the turn: the actual side says what is wrong with it
    for text in expect.contains:
        if text not in answer:
            found.append(Mismatch("contains", text, "not in the answer 回答中没有"))
    for text in expect.not_contains:
        if text in answer:
            found.append(Mismatch("not_contains", text, "in the answer 回答中有"))
    if expect.matches is not None and not re.search(expect.matches, answer):
        found.append(Mismatch("matches", expect.matches, "no match in the answer 回答不匹配"))
    for source in expect.cites:
        if source not in observed.cited:
            found.append(Mismatch("cites", source, observed.cited or "no sources"))
    return found


def _trace_checks(expect: Expect, observed: Observed) -> list[Mismatch]:
    found: list[Mismatch] = []
    allowed: list[str | None] = list(expect.route) if expect.route else [None]
    if expect.given("route") and observed.route not in allowed:
        routes: Any = expect.route[0] if expect.route and len(expect.route) == 1 else expect.route
        found.append(Mismatch("route", routes, observed.route))
    for key in ("intent", "flow", "asks", "language"):
        if expect.given(key) and getattr(expect, key) != getattr(observed, key):
            found.append(Mismatch(key, getattr(expect, key), getattr(observed, key)))
    if expect.given("slots"):
        want = expect.slots or {}
        if not _subset(want, observed.slots) or (not want and observed.slots):
            found.append(Mismatch("slots", want, observed.slots))
    if expect.given("tool_calls"):
        calls_wanted = expect.tool_calls or []
        calls = observed.tool_calls
        ok = len(calls_wanted) == len(calls) and all(
            _call_matches(want, got) for want, got in zip(calls_wanted, calls, strict=True)
        )
        if not ok:
            wanted = [call_text(w.tool, w.arguments, w.outcome) for w in calls_wanted]
            made = [call_text(c.get("tool"), c.get("arguments"), c.get("outcome")) for c in calls]
            found.append(Mismatch("tool_calls", wanted or "no call", made or "no call"))
    return found
