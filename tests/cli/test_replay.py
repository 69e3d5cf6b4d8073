"""``kefu replay``: last week's traffic against a changed demo app, the offline A/B test.

A small history is made on the demo app in a "live" data dir; replays with the unchanged
app, a higher FAQ threshold and a changed FAQ answer must report exactly the changes those
edits make, answer tool calls from the recorded results and leave the live store as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kefu.cli.main import app as kefu_app
from kefu.core.settings import Settings
from kefu.services.chat import ChatRequest
from kefu.services.runtime import Runtime, demo_app_file
from kefu.services.sandbox import Sandbox
from kefu.store.history import count_rows, open_read_only
from kefu.testing import ScriptedChatModel
from kefu.tools import ToolResult
from kefu.tools.recorded import NOT_RECORDED, RecordedCall, ToolTape

# (customer, [messages]); FAQ relevances with the default retrieval: 订单多久发货 1.0 (faq-zh-001),
# 默认走哪个快递 0.72, 青海运费 0.68, 试穿过 0.56, 从发货到手上 0.89.
HISTORY = [
    ("alice", ["订单多久发货？", "你们家默认走哪个快递，我想要顺丰", "从发货到我手上大概几天"]),
    ("bob", ["我在青海，运费怎么收", "帮我查一下订单", "#W1234567"]),
    ("carol", ["衣服试穿过了还可以退吗", "转人工", "我等着呢"]),
]
BELOW_NEW_THRESHOLD = {
    "你们家默认走哪个快递，我想要顺丰",
    "我在青海，运费怎么收",
    "衣服试穿过了还可以退吗",
}
CHANGED_FAQ = "faq-zh-001"


def _chat(runtime: Runtime) -> None:
    async def talk() -> None:
        app = runtime.apps.get("demo-shop")
        for user, messages in HISTORY:
            conversation = None
            for query in messages:
                turn = await runtime.chat.prepare(
                    ChatRequest(app=app, user=user, query=query, conversation_id=conversation)
                )
                conversation = (await runtime.chat.answer(turn)).conversation_id
        await runtime.aclose_models()

    asyncio.run(talk())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data dir holding the history; the shop is down, so the order lookup fails."""
    data = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KEFU_DEMO_SHOP_URL", "http://127.0.0.1:9")  # nothing listens
        runtime = Runtime.build(Settings().model_copy(update={"data_dir": data}), [demo_app_file()])
        try:
            _chat(runtime)
        finally:
            runtime.close()
    yield data


def _variant(
    tmp: Path, *, faq_threshold: float | None = None, new_answer: str | None = None
) -> Path:
    """The demo app with absolute knowledge paths and the given edits."""
    source = demo_app_file()
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    knowledge = config["knowledge"]
    folder = source.parent
    knowledge["faq"] = [str(folder / path) for path in knowledge["faq"]]
    knowledge["documents"] = [str(folder / path) for path in knowledge["documents"]]
    if faq_threshold is not None:
        knowledge["faq_threshold"] = faq_threshold
    if new_answer is not None:
        lines = []
        for line in Path(knowledge["faq"][0]).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["id"] == CHANGED_FAQ:
                entry["answer"] = new_answer
            lines.append(json.dumps(entry, ensure_ascii=False))
        changed = tmp / "faq.jsonl"
        changed.write_text("\n".join(lines) + "\n", encoding="utf-8")
        knowledge["faq"][0] = str(changed)
    path = tmp / "app.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _fingerprint(data: Path) -> tuple[dict[str, int], str]:
    engine = open_read_only(f"sqlite:///{data / 'kefu.db'}")
    try:
        rows = count_rows(engine)
    finally:
        engine.dispose()
    digest = hashlib.sha256()
    for path in sorted(data.glob("kefu.db*")):
        digest.update(path.name.encode() + path.read_bytes())
    return rows, digest.hexdigest()


def _replay(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(kefu_app, ["replay", *args, "--json", "--examples", "10"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _window() -> list[str]:
    today = dt.date.today()
    return [
        "--since",
        str(today - dt.timedelta(days=7)),
        "--until",
        str(today + dt.timedelta(days=1)),
    ]


def test_an_unchanged_app_reports_no_change(live: Path, tmp_path: Path) -> None:
    before = _fingerprint(live)
    report = _replay("--app", str(_variant(tmp_path)), "--data-dir", str(live), *_window())
    assert report["conversations"] == 3
    assert report["replayed_turns"] == 8  # nine customer turns, one while a human had it
    assert report["skipped_human_turns"] == 1
    assert report["changed_turns"] == 0, report["examples"]
    assert report["not_recorded_calls"] == []  # the failed order lookup came from the record
    assert _fingerprint(live) == before  # nothing written to the live store


def test_a_higher_threshold_and_a_changed_answer_are_the_changes_reported(
    live: Path, tmp_path: Path
) -> None:
    before = _fingerprint(live)
    app = _variant(
        tmp_path, faq_threshold=0.75, new_answer="现货 24 小时内发货。<script>x()</script>"
    )
    html = tmp_path / "report.html"
    report = _replay("--app", str(app), "--data-dir", str(live), *_window(), "--html", str(html))
    examples = report["examples"]
    assert {e["query"] for e in examples["route"]} == BELOW_NEW_THRESHOLD
    # an FAQ answer, or the question which of two near-tied entries is meant (clarify)
    assert all(e["before"]["route"] in ("faq", "clarify") for e in examples["route"])
    assert all(e["after"]["route"] in ("passage", "fallback") for e in examples["route"])
    assert {e["query"] for e in examples["knowledge"]} == BELOW_NEW_THRESHOLD
    assert {e["before"]["knowledge"].split(",")[0] for e in examples["knowledge"]} == {
        "faq:faq-zh-003", "faq:faq-zh-007", "faq:faq-zh-018",  # 018: a clarify, 017 second
    }  # fmt: skip
    answers = {e["query"]: e for e in examples["answer"]}
    assert set(answers) == {*BELOW_NEW_THRESHOLD, "订单多久发货？"}
    assert (
        answers["订单多久发货？"]["after"]["answer"] == "现货 24 小时内发货。<script>x()</script>"
    )
    assert answers["订单多久发货？"]["changed"] == ["answer"]  # same route, same entry
    assert report["changed"] == {"route": 3, "knowledge": 3, "flow": 0, "handoff": 0, "answer": 4}
    page = html.read_text(encoding="utf-8")
    assert "现货 24 小时内发货。&lt;script&gt;x()&lt;/script&gt;" in page  # escaped
    assert "<script>" not in page and "faq:faq-zh-003" in page
    assert _fingerprint(live) == before


def test_an_export_file_replays_the_same_and_counts_calls_not_recorded(
    live: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "week.jsonl"
    result = CliRunner().invoke(
        kefu_app,
        [
            "export",
            "conversations",
            "--app",
            "demo-shop",
            "--data-dir",
            str(live),
            "-o",
            str(exported),
        ],
    )
    assert result.exit_code == 0, result.output
    conversations = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(conversations) == 3
    bob = next(c for c in conversations if c["user"] == "bob")
    (call,) = bob["turns"][2]["trace"]["tool_calls"]
    assert call["tool"] == "get_order" and call["outcome"] == "unavailable"
    app = _variant(tmp_path)
    assert _replay("--app", str(app), "--from", str(exported))["changed_turns"] == 0
    for conversation in conversations:  # forget every recorded tool call
        for turn in conversation["turns"]:
            (turn["trace"] or {}).pop("tool_calls", None)
            for stage in (turn["trace"] or {}).get("stages", []):
                stage.pop("tool_calls", None)
    stripped = tmp_path / "stripped.jsonl"
    stripped.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations))
    report = _replay("--app", str(app), "--from", str(stripped))
    assert report["not_recorded_calls"] == [
        {"tool": "get_order", "arguments": {"order_id": "#W1234567"}}
    ]


def test_bad_input_is_one_line_and_exit_2(live: Path, tmp_path: Path) -> None:
    app = str(_variant(tmp_path))
    runner = CliRunner()
    bad_date = runner.invoke(
        kefu_app, ["replay", "--app", app, "--data-dir", str(live), "--since", "last week"]
    )
    assert bad_date.exit_code == 2
    assert "--since: 'last week' is not a date" in bad_date.stderr
    nothing = runner.invoke(
        kefu_app,
        [
            "replay",
            "--app",
            app,
            "--data-dir",
            str(live),
            "--since",
            "2001-01-01",
            "--until",
            "2001-01-02",
        ],
    )
    assert nothing.exit_code == 2 and "no stored conversations of 'demo-shop'" in nothing.stderr
    not_kefu = tmp_path / "other"
    not_kefu.mkdir()
    (not_kefu / "kefu.db").write_bytes(b"")  # an empty file: no kefu tables in it
    empty = runner.invoke(kefu_app, ["replay", "--app", app, "--data-dir", str(not_kefu)])
    assert empty.exit_code == 2 and "cannot read conversations from sqlite:///" in empty.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"app": "demo-shop"}\n', encoding="utf-8")
    bad_file = runner.invoke(kefu_app, ["replay", "--app", app, "--from", str(broken)])
    assert bad_file.exit_code == 2 and "broken.jsonl, line 1: id: Field required" in bad_file.stderr


def test_the_tape_answers_recorded_calls_in_order_and_counts_the_rest() -> None:
    tape = ToolTape(mask=lambda text: text.replace("13800138000", "138****8000"))
    found = {"tool": "find_user", "arguments": {"phone": "138****8000"}, "outcome": "ok",
             "status_code": 200, "result": {"data": {"user_id": "u1"}}}  # fmt: skip
    moved = {**found, "result": {"data": {"user_id": "u2"}}}
    tape.start_conversation(c for c in map(RecordedCall.from_trace, [found, moved]) if c)
    first = tape.play("find_user", {"phone": "13800138000"})  # masked, then looked up
    assert first == ToolResult("ok", data={"user_id": "u1"}, status_code=200)
    assert tape.play("find_user", {"phone": "13800138000"}).data == {"user_id": "u2"}
    assert tape.play("find_user", {"phone": "13800138000"}).data == {"user_id": "u2"}
    missing = tape.play("find_user", {"phone": "13900000000"})
    assert (missing.outcome, missing.error) == ("unavailable", NOT_RECORDED)
    assert tape.misses == [("find_user", {"phone": "13900000000"})]


def test_a_baseline_app_is_replayed_too_and_compared_with(live: Path, tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = _variant(tmp_path / "old")
    new = _variant(tmp_path / "new", faq_threshold=0.75)
    report = _replay("--app", str(new), "--baseline", str(old), "--data-dir", str(live))
    assert report["reference"] == str(old)
    assert report["changed"] == {"route": 3, "knowledge": 3, "flow": 0, "handoff": 0, "answer": 3}
    assert {e["query"] for e in report["examples"]["route"]} == BELOW_NEW_THRESHOLD


def test_a_sandbox_with_a_model_streams_its_answer(tmp_path: Path) -> None:
    """A generated answer is the model's text (the replay compares what customers read)."""
    with Sandbox(_variant(tmp_path, faq_threshold=0.99)) as sandbox:  # passages, not FAQ
        model = ScriptedChatModel().say("根据配送政策，", "偏远地区运费另计。")
        sandbox.app.model = model
        turn = asyncio.run(sandbox.turn("我在青海，运费怎么收"))
    assert turn.route == "generate"
    assert turn.answer == "根据配送政策，偏远地区运费另计。"
    assert turn.sources and model.calls
