"""What a person reads after ``kefu test``: each failed test as expected vs actual, turn by
turn, and one summary line."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kefu.cli.conversation_tests.runner import TestResult

__all__ = ["print_failure", "print_summary", "shown"]

ANSWER_CHARS = 300


def shown(value: Any) -> str:
    """A value as the diff shows it: strings bare, everything else as compact JSON."""
    if isinstance(value, str):
        return value if len(value) <= ANSWER_CHARS else value[:ANSWER_CHARS] + "…"
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return "\n".join(value)  # tool calls, one a line
    return json.dumps(value, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_defaults=True)
    return str(value)


def failure_table(result: TestResult) -> Table:
    """Turn by turn: what the customer said, the bot's answer, and every mismatch."""
    table = Table(show_lines=True, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("顾客 customer / 客服 bot", ratio=3, overflow="fold")
    table.add_column("key", no_wrap=True)
    table.add_column("expected 期望", style="green", ratio=2, overflow="fold")
    table.add_column("actual 实际", style="red", ratio=2, overflow="fold")
    for number, turn in enumerate(result.turns, 1):
        answer = turn.observed.answer if turn.observed is not None else ""
        said = Text.assemble(("» ", "bold"), turn.said, "\n", ("« ", "bold cyan"), shown(answer))
        if not turn.mismatches:
            table.add_row(str(number), said, "✓", "", "")
            continue
        for index, miss in enumerate(turn.mismatches):
            actual = shown(miss.actual) + (f"\n({miss.note})" if miss.note else "")
            table.add_row(
                str(number) if index == 0 else "",
                said if index == 0 else "",
                miss.key,
                Text(shown(miss.expected)),
                Text(actual),
            )
    not_run = len(result.test.turns) - len(result.turns)
    if not_run and result.error is None:
        table.add_row("", Text(f"({not_run} more turns not run)", style="dim"), "", "", "")
    return table


def print_failure(console: Console, result: TestResult) -> None:
    where = f"{result.file}:{result.test.line}"
    parts: list[Any] = []
    if result.turns:
        parts.append(failure_table(result))
    if result.error:
        parts.append(Text(f"error 错误: {result.error}", style="bold red"))
    console.print(
        Panel(Group(*parts), title=f"[bold red]✗ {result.name}[/]", subtitle=where),
        highlight=False,
    )


def print_summary(console: Console, results: list[TestResult], seconds: float) -> None:
    failed = [r for r in results if not r.passed]
    passed = len(results) - len(failed)
    style = "bold red" if failed else "bold green"
    console.print(
        f"[{style}]{passed} passed 通过, {len(failed)} failed 失败[/] "
        f"({len(results)} tests, {sum(len(r.turns) for r in results)} turns, {seconds:.1f} s)",
        highlight=False,
    )
    for result in failed:
        console.print(f"  ✗ {result.file}:{result.test.line}  {result.name}", highlight=False)
