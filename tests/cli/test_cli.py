"""The `kefu` command: ask, kb import, and friendly configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kefu.cli.main import app
from kefu.knowledge.embedders import use_available

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_ask_demo_prints_the_answer(data_dir: Path) -> None:
    result = runner.invoke(app, ["ask", "订单多久发货?", "--demo", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "48" in result.stdout
    assert (data_dir / "kefu.db").is_file()


def test_bad_app_file_names_file_key_and_reason(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name!\nlanguage: fr\n", encoding="utf-8")
    result = runner.invoke(app, ["ask", "hi", "--app", str(bad), "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert str(bad) in result.output and "name" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: [unclosed\n", "invalid YAML"),
        ("- just\n- a list\n", "mapping"),
        ("name: ok\nknowledge:\n  faq: [missing.jsonl]\n", "knowledge.faq.0"),
        ("name: ok\nknowledge:\n  faq_threshold: 2\n", "knowledge.faq_threshold"),
        ("name: ok\nsurprise: 1\n", "surprise"),
    ],
)
def test_config_errors_are_one_clear_line(
    tmp_path: Path, data_dir: Path, content: str, expected: str
) -> None:
    bad = tmp_path / "app.yaml"
    bad.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["ask", "hi", "--app", str(bad), "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_kb_import_then_answer_from_new_knowledge(tmp_path: Path, data_dir: Path) -> None:
    faq = tmp_path / "extra.csv"
    faq.write_text(
        "question,answer,variants\n"
        "门店营业时间是几点,门店每天10:00-21:00营业。,门店几点开门|实体店几点关门\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["kb", "import", str(faq), "--demo", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "imported 1 files (1 changed)" in result.stdout
    # Only the new entry's three forms go to the encoder; the demo's own are reused.
    embedded = 3 if use_available() else 0
    assert f"{embedded} texts embedded" in result.stdout, result.stdout
    answer = runner.invoke(app, ["ask", "实体店几点关门", "--demo", "--data-dir", str(data_dir)])
    assert "10:00-21:00" in answer.stdout
    again = runner.invoke(app, ["kb", "import", str(faq), "--demo", "--data-dir", str(data_dir)])
    assert "(0 changed)" in again.stdout
    assert "index:" not in again.stdout  # nothing changed: no build at all


def test_kb_import_missing_path(data_dir: Path) -> None:
    result = runner.invoke(
        app, ["kb", "import", "/no/such/file.md", "--demo", "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_chat_keeps_one_conversation(data_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["chat", "--demo", "--data-dir", str(data_dir), "--user", "terminal"],
        input="订单多久发货?\nHow long does shipping take?\nexit\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("客服 / bot") == 2
    assert "48" in result.stdout and "days" in result.stdout
    from kefu.store import Store

    store = Store.open(f"sqlite:///{data_dir / 'kefu.db'}")
    app_id = store.apps.get_by_name("demo-shop").id  # type: ignore[union-attr]
    assert store.conversations.count_messages(app_id) == 2
    store.close()


def test_chat_says_a_human_has_it_instead_of_an_empty_bot_line(data_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["chat", "--demo", "--data-dir", str(data_dir), "--user", "wants-a-human"],
        input="转人工\n还在吗?\nexit\n",
    )
    assert result.exit_code == 0, result.output
    turns = result.stdout.split("你 / you: ")[1:]  # what follows each prompt
    assert turns[0].startswith("客服 / bot: 正在为您转接人工客服")
    assert "客服 / bot" not in turns[1]
    assert "已转人工" in turns[1] and "a human agent has this conversation" in turns[1]


def test_demo_shop_reset_restores_a_cancelled_order(data_dir: Path) -> None:
    """``kefu demo-shop reset`` hands over to the installed demo shop's own command."""
    import sqlite3

    result = runner.invoke(app, ["demo-shop", "reset", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    db = data_dir / "demo_shop.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE orders SET status = 'cancelled' WHERE order_id = '#W6247578'")
    conn.close()
    assert runner.invoke(app, ["demo-shop", "reset", "--data-dir", str(data_dir)]).exit_code == 0
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM orders WHERE order_id = '#W6247578'").fetchone()
    (status,) = row
    conn.close()
    assert status == "pending"


def test_demo_shop_help_is_the_shops_own() -> None:
    """Everything after ``demo-shop``, ``--help`` included, reaches the shop's command."""
    result = runner.invoke(app, ["demo-shop", "serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: kefu demo-shop serve [OPTIONS]" in result.stdout
    assert "--faults" in result.stdout and "--reset" in result.stdout
