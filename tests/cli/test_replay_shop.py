"""``kefu replay`` with the real demo shop's answers recorded: the replay answers every tool
call from the recording (the shop is gone by then) and judges "上个月" at the recorded time."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli.main import app as kefu_app
from kefu.core.settings import Settings
from kefu.services.chat import ChatRequest
from kefu.services.runtime import Runtime, demo_app_file
from kefu_demo_shop import ShopConfigError, find_source
from tests.cli.test_replay import _variant
from tests.demo_shop.server import running_demo_shop

HISTORY = [
    ("member", ["为什么我的会员等级降级了?", "13900005678"]),
    ("bill", ["我上个月流量费突然翻倍,是不是乱收费?", "13800001234"]),
    ("order", ["帮我查一下订单", "#W2378156"]),
]


def _chat(runtime: Runtime) -> list[str]:
    async def talk() -> list[str]:
        app, answers = runtime.apps.get("demo-shop"), []
        for user, messages in HISTORY:
            conversation = None
            for query in messages:
                turn = await runtime.chat.prepare(
                    ChatRequest(app=app, user=user, query=query, conversation_id=conversation)
                )
                result = await runtime.chat.answer(turn)
                conversation = result.conversation_id
                answers.append(result.answer)
        await runtime.aclose_models()  # the tools' connections to the shop
        return answers

    return asyncio.run(talk())


def _replay(*args: str) -> dict:
    result = CliRunner().invoke(kefu_app, ["replay", *args, "--json", "--examples", "10"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_tool_results_come_from_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        find_source()
    except ShopConfigError as exc:
        pytest.skip(f"τ²-bench retail data absent (shared/data/tau2_retail/db.json): {exc}")
    live = tmp_path / "live"
    with running_demo_shop(tmp_path / "shop") as url:
        monkeypatch.setenv("KEFU_DEMO_SHOP_URL", url)
        runtime = Runtime.build(Settings().model_copy(update={"data_dir": live}), [demo_app_file()])
        try:
            answers = _chat(runtime)
        finally:
            runtime.close()
    assert "银卡会员" in answers[1] and "58.4" in answers[3] and "Headphones" in answers[5]
    monkeypatch.setenv("KEFU_DEMO_SHOP_URL", "http://127.0.0.1:9")  # the shop is gone
    exported = tmp_path / "week.jsonl"
    result = CliRunner().invoke(
        kefu_app, ["export", "conversations", "--app", "demo-shop", "--data-dir", str(live)]
    )
    assert result.exit_code == 0, result.output
    exported.write_text(result.stdout, encoding="utf-8")
    app = str(_variant(tmp_path))
    report = _replay("--app", app, "--from", str(exported))
    assert report["replayed_turns"] == 6
    assert report["changed_turns"] == 0, report["examples"]
    assert report["not_recorded_calls"] == []
    # The bill conversation two months later: "上个月" is another month, same recorded calls.
    conversations = [json.loads(line) for line in exported.read_text().splitlines()]
    for conversation in conversations:
        if conversation["user"] == "bill":
            for turn in conversation["turns"]:
                moment = dt.datetime.fromisoformat(turn["created_at"]) + dt.timedelta(days=62)
                turn["created_at"] = moment.isoformat()
    later = tmp_path / "later.jsonl"
    later.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations))
    report = _replay("--app", app, "--from", str(later))
    assert [e["query"] for e in report["examples"]["answer"]] == ["13800001234"]
    assert report["changed"]["route"] == 0 and report["not_recorded_calls"] == []
