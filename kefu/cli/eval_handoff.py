"""``kefu eval handoff``: the hand-over triggers on labelled multi-turn dialogs.

Per customer turn, "should a human take over now" against what the app decided; precision,
recall and F1 overall and per language, the confusion counts and the misclassified turns
(:mod:`kefu.services.handoff_eval`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from kefu.cli.errors import fail
from kefu.core.errors import InvalidParam, KefuError
from kefu.services.handoff_eval import TurnVerdict, evaluate_handoff, read_dialogs, summarise
from kefu.services.runtime import demo_app_file
from kefu.services.sandbox import Sandbox

__all__ = ["handoff_command"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def handoff_command(
    dialogs_file: Annotated[
        Path | None,
        typer.Option("--dialogs", help="JSONL dialogs [the app's handoff_dialogs.jsonl]"),
    ] = None,
    app_file: Annotated[
        Path | None, typer.Option("--app", help="app YAML [the bundled demo app]", dir_okay=False)
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="only dialogs of this split (dev, test)")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """How well the app decides when a human should take over, turn by turn."""
    try:
        app_path = app_file or demo_app_file()
        path = dialogs_file or app_path.parent / app_path.stem / "handoff_dialogs.jsonl"
        dialogs = read_dialogs(path)
        if split is not None:
            dialogs = [d for d in dialogs if d.split == split]
            if not dialogs:
                raise InvalidParam(f"--split: no dialog of split {split!r} in {path}")
        with Sandbox(app_path) as sandbox:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err,
                transient=True,
                disable=json_output,
            ) as progress:
                task = progress.add_task("dialogs", total=sum(len(d.turns) for d in dialogs))

                async def run() -> list[TurnVerdict]:
                    try:
                        return await evaluate_handoff(
                            sandbox, dialogs, on_turn=lambda: progress.advance(task)
                        )
                    finally:
                        await sandbox.aclose_connections()

                verdicts = asyncio.run(run())
    except KefuError as exc:
        fail(exc.message)
    summary = summarise(verdicts)
    if json_output:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    _print(path, summary)


def _row(table: Table, name: str, scores: dict[str, Any]) -> None:
    confusion = scores["confusion"]
    table.add_row(
        name,
        str(scores["turns"]),
        f"{scores['precision']:.1%}",
        f"{scores['recall']:.1%}",
        f"{scores['f1']:.1%}",
        f"{confusion['tp']} / {confusion['fp']} / {confusion['fn']} / {confusion['tn']}",
    )


def _print(path: Path, summary: dict[str, Any]) -> None:
    table = Table(title=f"{path.name}: {summary['dialogs']} dialogs, hand over now? per turn")
    for column in ("", "turns", "precision", "recall", "F1", "TP / FP / FN / TN"):
        table.add_column(column, justify="left" if not column else "right")
    _row(table, "all", summary)
    for name, scores in summary["groups"].items():
        _row(table, f"  {name}", scores)
    out.print(table)
    if summary["reasons"]:
        reasons = ", ".join(f"{name} {count}" for name, count in summary["reasons"].items())
        out.print(f"hand-overs by reason: {escape(reasons)}", highlight=False)
    for miss in summary["misclassified"]:
        want = "hand over" if miss["expected"] else "keep"
        got = f"handed over ({miss['reason']})" if miss["handed_over"] else miss["route"]
        out.print(
            f"  ✗ {escape(miss['dialog'])} #{miss['turn']} “{escape(miss['text'])}”: "
            f"want {want}, got {escape(got)}",
            highlight=False,
        )
