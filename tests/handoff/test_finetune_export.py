"""`kefu export finetune`: a history made through the real APIs (likes, dislikes, a
fallback, a hand-over with an agent's reply, an annotation) exported as chat-format JSONL,
with each filter checked against what it must keep and leave out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kefu.cli.main import app as cli
from kefu.core.settings import Settings
from tests.handoff.conftest import Desk

runner = CliRunner()
PHONE = "13812345678"


async def rate(desk: Desk, answer: dict[str, Any], user: str, rating: str) -> None:
    response = await desk.http.post(
        f"/v1/messages/{answer['message_id']}/feedbacks",
        json={"rating": rating, "user": user},
        headers={"Authorization": f"Bearer {desk.app_key}"},
    )
    assert response.status_code == 200, response.text


async def make_history(desk: Desk) -> Settings:
    a1 = await desk.ask("ft-a", "What are your opening hours?")
    await rate(desk, a1, "ft-a", "like")
    await desk.ask(
        "ft-a", f"Is there parking at the store? call me on {PHONE}", a1["conversation_id"]
    )
    b = await desk.ask("ft-b", "When are you open?")
    await rate(desk, b, "ft-b", "dislike")
    await desk.ask("ft-c", "量子纠缠怎么解释")
    d = await desk.ask("ft-d", "opening times")
    cid = d["conversation_id"]
    await desk.ask("ft-d", "转人工", cid)
    await desk.ask("ft-d", "我的订单丢了", cid)
    agent = await desk.new_agent("ft-amy")
    sent = await desk.agent(
        agent, "POST", f"/conversations/{cid}/reply", json={"text": "我来帮您查"}
    )
    assert sent.status_code == 200, sent.text
    await desk.runtime.annotations.create(desk.runtime.apps.get("desk"), "你们卖礼品卡吗", "卖的。")
    return desk.runtime.settings


def export(settings: Settings, tmp_path: Path, *args: str) -> list[dict[str, Any]]:
    """The command over the desk's data dir and database (SQLite there, or PostgreSQL)."""
    out = tmp_path / "ft.jsonl"
    result = runner.invoke(
        cli, ["export", "finetune", "--app", "desk", "--data-dir", str(settings.data_dir),
              "-o", str(out), *args],
        env={"KEFU_DATABASE_URL": settings.resolved_database_url()},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def dialog(example: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in example["messages"]]


async def test_the_export_keeps_what_teaches_and_masks_personal_data(
    desk: Desk, tmp_path: Path
) -> None:
    settings = await make_history(desk)
    examples = export(settings, tmp_path)
    firsts = [dialog(e)[0][1] for e in examples]
    # b was disliked, c got the fallback: no example; a, d and the annotation are there
    assert sorted(firsts) == sorted(
        ["What are your opening hours?", "opening times", "你们卖礼品卡吗"]
    )
    a = next(e for e in examples if dialog(e)[0][1] == "What are your opening hours?")
    roles = [role for role, _ in dialog(a)]
    assert roles == ["user", "assistant", "user", "assistant"]
    text = json.dumps(a, ensure_ascii=False)
    assert PHONE not in text and "138" in text  # masked, not dropped
    d = next(e for e in examples if dialog(e)[0][1] == "opening times")
    assert dialog(d)[-2:] == [("user", "我的订单丢了"), ("assistant", "我来帮您查")]
    assert [role for role, _ in dialog(d)] == ["user", "assistant"] * 3
    assert dialog(examples[-1]) == [("user", "你们卖礼品卡吗"), ("assistant", "卖的。")]

    everything = export(settings, tmp_path, "--rating", "all", "--no-annotations")
    assert "When are you open?" in [dialog(e)[0][1] for e in everything]
    assert "你们卖礼品卡吗" not in [dialog(e)[0][1] for e in everything]

    liked = export(settings, tmp_path, "--rating", "liked", "--no-agents", "--no-annotations")
    assert [dialog(e) for e in liked] == [
        [("user", "What are your opening hours?"), ("assistant", dialog(a)[1][1])]
    ]

    with_system = export(settings, tmp_path, "--route", "faq", "--system", "你是小客。")
    assert all(e["messages"][0] == {"role": "system", "content": "你是小客。"} for e in with_system)
    assert all(
        not any("转接" in m["content"] for m in e["messages"]) for e in with_system
    )  # the hand-over answer's route is not faq

    assert export(settings, tmp_path, "--from", "2999-01-01", "--no-annotations") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rating", "best"], "--rating"),
        (["--from", "yesterday"], "--from takes a date"),
        (["--from", "2026-12-05", "--to", "2026-12-01"], "must not be after"),
    ],
)
def test_bad_options_end_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["export", "finetune", "--app", "desk", "--data-dir", str(tmp_path), "-o", "-", *args]
    )
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_an_unknown_app_is_named(tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["export", "finetune", "--app", "nope", "--data-dir", str(tmp_path), "-o", "-"]
    )
    assert result.exit_code == 2 and "no app named 'nope'" in result.output
