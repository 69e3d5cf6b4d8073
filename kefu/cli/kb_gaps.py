"""``kefu kb gaps``: what customers asked that the knowledge base could not answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kefu.cli.errors import fail
from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.services.knowledge_gaps import GapReport, gap_report

__all__ = ["kb_gaps"]

out = Console()
err = Console(stderr=True, soft_wrap=True)


def _report_json(report: GapReport) -> dict[str, object]:
    return {
        "app": report.app,
        "days": report.days,
        "questions": report.questions,
        "groups": [
            {
                "question": g.question,
                "count": g.count,
                "examples": g.examples,
                "last_asked_at": g.last_asked.isoformat(timespec="seconds"),
                "best_score": g.best_score,
                "message_ids": g.message_ids,
            }
            for g in report.groups
        ],
    }


def _print_table(report: GapReport) -> None:
    table = Table(
        title=f"{report.app}: {report.questions} unanswered questions, last {report.days} days",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("question (and other phrasings)", overflow="fold")
    table.add_column("asked", justify="right")
    table.add_column("best score", justify="right")
    table.add_column("last asked")
    for number, group in enumerate(report.groups, 1):
        question = group.question
        if group.examples:
            question += "\n" + "\n".join(f"[dim]· {e}[/]" for e in group.examples)
        table.add_row(
            str(number),
            question,
            str(group.count),
            f"{group.best_score:.2f}",
            group.last_asked.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    if not report.groups:
        out.print("[green]no gaps: every question found an answer[/]")


def kb_gaps(
    app_name: Annotated[
        str | None, typer.Option("--app", help="app name (default: every app in the database)")
    ] = None,
    days: Annotated[int, typer.Option(min=1, help="look back this many days")] = 7,
    limit: Annotated[int, typer.Option(min=1, help="largest groups shown per app")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="where data lives [env KEFU_DATA_DIR; ./data]"),
    ] = None,
) -> None:
    """Questions the knowledge base could not answer, near-duplicates grouped."""
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    try:
        reports = gap_report(settings, [app_name] if app_name else None, days, limit)
    except KefuError as exc:
        fail(exc.message)
    if as_json:
        print(json.dumps([_report_json(r) for r in reports], ensure_ascii=False, indent=2))
        return
    for report in reports:
        _print_table(report)
