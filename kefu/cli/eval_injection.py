"""``kefu eval injection``: the injection heuristics on labelled attacks and look-alikes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kefu.cli.errors import fail
from kefu.core.errors import KefuError
from kefu.safety.injection_eval import InjectionReport, evaluate_injection, read_cases

__all__ = ["injection_command"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def injection_command(
    cases_file: Annotated[
        Path | None,
        typer.Option(
            "--cases", help="JSONL: text, label (attack|benign), lang, disguise [the bundled set]"
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    show: Annotated[
        bool, typer.Option("--show", help="list missed attacks and false positives")
    ] = False,
) -> None:
    """Recall on injection attempts and false positives on harmless look-alikes, by
    disguise and language."""
    try:
        report = evaluate_injection(read_cases(cases_file))
    except KefuError as exc:
        fail(exc.message)
    if json_output:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    _print(report, show=show)


def _print(report: InjectionReport, *, show: bool) -> None:
    summary = report.as_dict()
    table = Table(title="prompt injection", show_header=False)
    table.add_row("recall (attacks flagged)", f"{report.recall:.1%} of {summary['attacks']}")
    table.add_row(
        "false positives (look-alikes flagged)",
        f"{report.false_positive_rate:.1%} of {summary['benign']}",
    )
    table.add_row("µs per message", f"{report.us_per_message:.1f}")
    out.print(table)
    for label, title in (("attack", "recall"), ("benign", "false positives")):
        groups = Table(title=title)
        groups.add_column("group")
        groups.add_column("n", justify="right")
        groups.add_column("flagged", justify="right")
        for by in ("lang", "disguise"):
            for name, (n, share) in report.groups(label, by).items():  # type: ignore[arg-type]
                groups.add_row(f"{by}={name}", str(n), f"{share:.1%}")
        out.print(groups)
    if show:
        for row in summary["missed"]:
            out.print(
                f"  missed [{row['disguise']}] {row['text']!r}", markup=False, highlight=False
            )
        for row in summary["false_positives"]:
            out.print(
                f"  false positive [{row['disguise']}] {row['text']!r} {row['reasons']}",
                markup=False,
                highlight=False,
            )
