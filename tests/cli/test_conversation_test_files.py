"""Conversation test files (``kefu test``): the schema names file, line and key of a
mistake; the checks compare what a turn did, masked personal data included; JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.cli.conversation_tests.checks import check_turn
from kefu.cli.conversation_tests.client import Observed, TestClient
from kefu.cli.conversation_tests.junit import write_junit
from kefu.cli.conversation_tests.runner import TestResult, TurnOutcome, render_env
from kefu.cli.conversation_tests.schema import Expect, find_test_files, load_test_file
from kefu.core.errors import ConfigError

GOOD = """\
x-fault: &fault
  - http: "POST {env.SHOP|http://127.0.0.1:8100}/_faults"
    json: {status: 503}
teardown:
  - http: "DELETE {env.SHOP|http://127.0.0.1:8100}/_faults"
tests:
  - name: plain turns
    turns:
      - 帮我查一下订单
      - say: "#W2378156"
        expect: {route: [flow, faq], contains: 58.4, intent: null}
  - name: with setup
    user: alice
    setup: *fault
    turns: [hello]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_test_file(_write(tmp_path, text))
    return caught.value.message


def test_a_good_file_loads_with_lines_and_shorthands(tmp_path: Path) -> None:
    suite = load_test_file(_write(tmp_path, GOOD))
    first, second = suite.tests
    assert (first.line, second.line) == (7, 12)
    assert first.turns[0].say == "帮我查一下订单" and not first.turns[0].expect.given("route")
    expect = first.turns[1].expect
    assert expect.route == ["flow", "faq"] and expect.contains == ["58.4"]
    assert expect.given("intent") and expect.intent is None
    assert not expect.given("flow")
    assert second.setup[0].method == "POST" and second.setup[0].json_body == {"status": 503}
    assert suite.teardown[0].method == "DELETE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tests:\n  - name: a\n    turns:\n      - say: hi\n        expect: {rout: faq}\n",
            "t.yaml:5: tests.0.turns.0.expect.rout: Extra inputs are not permitted",
        ),
        (
            "tests:\n  - name: a\n    turns:\n      - say: hi\n        expect:\n"
            "          matches: '(unclosed'\n",
            "t.yaml:6: tests.0.turns.0.expect.matches: not a regular expression",
        ),
        (
            "tests:\n  - name: a\n    turns:\n      - say: hi\n      - say: '  '\n",
            "t.yaml:5: tests.0.turns.1.say: the customer must say something",
        ),
        ("tests:\n  - name: a\n    turns: []\n", "t.yaml:3: tests.0.turns: List should have"),
        (
            "tests:\n  - name: a\n    turns: [hi]\n  - name: a\n    turns: [hi]\n",
            "t.yaml:1: two tests are named 'a'",
        ),
        (
            "tests:\n  - name: a\n    setup:\n      - http: FETCH http://x\n    turns: [hi]\n",
            "t.yaml:4: tests.0.setup.0.http: write the step as 'METHOD URL'",
        ),
        (
            "tests:\n  - name: a\n    turns:\n      - say: x\n        expect: {handoff: agent}\n",
            "t.yaml:5: tests.0.turns.0.expect.handoff: Input should be 'bot'",
        ),
        ("tests:\n  - name: a\n    turns: [hi\n", "t.yaml:4: invalid YAML"),
        ("- a list\n", "t.yaml:1: a test file holds a mapping with a `tests:` list"),
        (
            "tests:\n  - name: a\n    turns:\n      - say: x\n        expect:\n"
            "          answer: 没有找到订单 #W0000001\n",
            "t.yaml:6: the value '没有找到订单' is cut at '#'",
        ),
    ],
)
def test_mistakes_name_the_line_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    assert message in _error(tmp_path, text)


def test_test_files_are_found_in_folders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.yaml", "a.yml", "sub/c.yaml", "notes.md"):
        (tmp_path / name).write_text("tests: []\n", encoding="utf-8")
    found = find_test_files([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.yml", "b.yaml", "sub/c.yaml"]
    with pytest.raises(ConfigError, match="no such test file"):
        find_test_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no test files"):
        find_test_files([tmp_path / "empty"])


def test_env_placeholders_in_step_urls() -> None:
    assert render_env("{env.SHOP|http://d}/_x", {}) == "http://d/_x"
    assert render_env("{env.SHOP|http://d}/_x", {"SHOP": "http://s"}) == "http://s/_x"
    with pytest.raises(ValueError, match="SHOP is not set"):
        render_env("{env.SHOP}/x", {})
    with pytest.raises(ValueError, match="only"):
        render_env("{order_id}", {})


def _observed(**trace: Any) -> Observed:
    answer = trace.pop("answer", "订单 #W1 已取消")
    sources = trace.pop("sources", [{"segment_id": "faq-zh-001", "document_name": "faq.jsonl"}])
    return Observed(answer, "c1", trace.pop("handoff", "bot"), sources, trace or None)


TRACE: dict[str, Any] = {
    "route": "flow",
    "language": "zh",
    "stages": [
        {"name": "understand", "intent": {"label": "order.cancel"}},
        {"name": "route", "flow": {"flow": "cancel_order", "step": "ask", "asked": "reason"}},
    ],
    "slots": {"email": "s***@example.com", "order_id": "#W1"},
    "tool_calls": [
        {"tool": "find_user", "arguments": {"phone": "139****5678"}, "outcome": "ok"},
        {"tool": "cancel_order", "arguments": {"order_id": "#W1"}, "outcome": "error"},
    ],
}


def _keys(expect: dict[str, Any], observed: Observed) -> list[str]:
    return [m.key for m in check_turn(Expect.model_validate(expect), observed)]


def test_every_key_passes_when_the_turn_did_it() -> None:
    expect = {
        "route": "flow",
        "intent": "order.cancel",
        "flow": "cancel_order",
        "asks": "reason",
        "language": "zh",
        "slots": {"email": "sofia@example.com", "reason": None},  # masked, absent
        "tool_calls": [
            {"tool": "find_user", "arguments": {"phone": "13900005678"}},  # masked
            {"tool": "cancel_order", "outcome": "error"},
        ],
        "handoff": "bot",
        "contains": ["已取消", "#W1"],
        "not_contains": "退款",
        "matches": "订单 #W\\d 已",
        "cites": ["faq-zh-001", "faq.jsonl"],
    }
    assert _keys(expect, _observed(**TRACE)) == []


@pytest.mark.parametrize(
    ("expect", "key"),
    [
        ({"route": "faq"}, "route"),
        ({"route": ["faq", "passage"]}, "route"),
        ({"intent": None}, "intent"),
        ({"intent": "order.status"}, "intent"),
        ({"flow": None}, "flow"),
        ({"asks": "email"}, "asks"),
        ({"language": "en"}, "language"),
        ({"slots": {"email": "other@example.com"}}, "slots"),
        ({"slots": {"order_id": None}}, "slots"),
        ({"slots": {}}, "slots"),
        ({"tool_calls": []}, "tool_calls"),
        ({"tool_calls": [{"tool": "find_user"}]}, "tool_calls"),  # one call too few
        ({"tool_calls": [{"tool": "cancel_order"}, {"tool": "find_user"}]}, "tool_calls"),
        (
            {
                "tool_calls": [
                    {"tool": "find_user", "arguments": {"phone": "1"}},
                    {"tool": "cancel_order"},
                ]
            },
            "tool_calls",
        ),
        (
            {"tool_calls": [{"tool": "find_user"}, {"tool": "cancel_order", "outcome": "ok"}]},
            "tool_calls",
        ),
        ({"handoff": "pending_human"}, "handoff"),
        ({"answer": "订单"}, "answer"),
        ({"contains": "退款"}, "contains"),
        ({"not_contains": "已取消"}, "not_contains"),
        ({"matches": "^退款"}, "matches"),
        ({"cites": "faq-zh-002"}, "cites"),
    ],
)
def test_each_key_fails_when_the_turn_did_otherwise(expect: dict[str, Any], key: str) -> None:
    assert _keys(expect, _observed(**TRACE)) == [key]


def test_without_the_trace_trace_keys_fail_with_a_hint() -> None:
    observed = _observed()  # no admin key: no trace
    mismatches = check_turn(Expect.model_validate({"route": "faq", "contains": "已取消"}), observed)
    assert [(m.key, m.actual) for m in mismatches] == [("route", None)]
    assert "--admin-key" in mismatches[0].note


def test_junit_xml_has_one_case_per_test_and_the_diff(tmp_path: Path) -> None:
    suite = load_test_file(_write(tmp_path, GOOD))
    first, second = suite.tests
    observed = _observed(**TRACE)
    failing = TestResult(suite.path, first)
    expect = first.turns[1].expect
    failing.turns = [
        TurnOutcome(first.turns[0].say, observed, []),
        TurnOutcome(first.turns[1].say, observed, check_turn(expect, observed)),
    ]
    broken = TestResult(suite.path, second, error="POST http://x/_faults → 500: <boom> & co")
    out = tmp_path / "out" / "junit.xml"
    write_junit(out, [failing, broken], 1.5)
    root = ET.parse(out).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "1")
    case_one, case_two = root.iter("testcase")
    assert (case_one.get("name"), case_one.get("line")) == ("plain turns", "7")
    failure = case_one.find("failure")
    assert failure is not None and failure.get("message") == "intent: expected null"
    assert "turn 2: » #W2378156" in (failure.text or "")
    error = case_two.find("error")
    assert error is not None and "<boom> & co" in (error.get("message") or "")


async def test_the_client_waits_out_a_rate_limit_and_reads_the_trace() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path} {request.headers['authorization']}")
        if request.url.path == "/v1/chat-messages" and len(seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"code": "too_many"})
        if request.url.path == "/v1/chat-messages":
            metadata = {"handoff_state": "bot", "retriever_resources": []}
            body = {"answer": "hi", "conversation_id": "c", "message_id": "m", "metadata": metadata}
            return httpx.Response(200, json=body)
        return httpx.Response(200, json={"route": "faq", "stages": []})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://k")
    client = TestClient(http, "app-k", "admin-k")
    observed = await client.say("u", "hello", "", {})
    await client.aclose()
    assert (observed.answer, observed.route, observed.conversation_id) == ("hi", "faq", "c")
    assert seen == [
        "POST /v1/chat-messages Bearer app-k",
        "POST /v1/chat-messages Bearer app-k",
        "GET /admin/messages/m/trace Bearer admin-k",
    ]
