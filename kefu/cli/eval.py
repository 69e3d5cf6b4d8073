"""``kefu eval``: measure the NLU on labelled data (``kefu eval intent``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kefu.appfile.nlu_config import IntentSettings
from kefu.cli.errors import fail
from kefu.core.errors import KefuError
from kefu.nlu.intent.evaluation import evaluate_intents, read_examples, write_report
from kefu.nlu.intent.features import Progress as ProgressCallback

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Measure kefu's language understanding on labelled data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

out = Console()
err = Console(stderr=True, soft_wrap=True)


@eval_app.callback()
def _group() -> None:
    """Measure kefu's language understanding on labelled data."""


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A progress callback drawing one rich bar per stage on stderr (None when disabled)."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:>12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bars:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield report


@eval_app.command("intent")
def intent(
    train: Annotated[Path, typer.Option("--train", help="training examples (JSONL)")],
    test: Annotated[
        Path, typer.Option("--test", help="test examples (JSONL; label oos = out of scope)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="write intent_report.json and confusion_matrix.png here"),
    ] = None,
    char_ngrams: Annotated[bool, typer.Option(help="character n-gram features")] = True,
    word_ngrams: Annotated[bool, typer.Option(help="word n-gram features")] = True,
    pos_tags: Annotated[bool, typer.Option(help="Chinese part-of-speech n-grams")] = True,
    embeddings: Annotated[
        Literal["auto", "on", "off"], typer.Option(help="MiniLM sentence embeddings")
    ] = "auto",
    no_embeddings: Annotated[
        bool, typer.Option("--no-embeddings", help="same as --embeddings off")
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="out-of-scope below this probability [chosen on held-out training rows when "
            "they hold oos examples, else 0.3]",
        ),
    ] = None,
    regularization: Annotated[float | None, typer.Option(min=0.0, help="the SVM's C [0.5]")] = None,
) -> None:
    """Train an intent classifier as an app would, then score it on a test file."""
    changes: dict[str, Any] = {
        "char_ngrams": char_ngrams,
        "word_ngrams": word_ngrams,
        "pos_tags": pos_tags,
        "embeddings": "off" if no_embeddings else embeddings,
        "threshold": threshold,
    }
    if regularization is not None:
        changes["regularization"] = regularization
    try:
        settings = IntentSettings(**changes)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        fail(f"--{field}: {first['msg']}")
    try:
        train_examples = read_examples(train)
        test_examples = read_examples(test)
        with _progress_bars(enabled=True) as progress:
            evaluation = evaluate_intents(
                train_examples, test_examples, settings, progress=progress
            )
        notes = write_report(evaluation, report) if report is not None else []
    except KefuError as exc:
        fail(exc.message)
    for note in notes:
        err.print(f"[yellow]{escape(note)}[/]", highlight=False)
    metrics = evaluation.metrics
    if as_json:
        typer.echo(json.dumps(metrics, ensure_ascii=False))
        return
    _print_table(metrics, report)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


def _print_table(metrics: dict[str, Any], report: Path | None) -> None:
    table = Table(title="intent classification", show_header=False)
    table.add_row("features", ", ".join(metrics["features"]))
    table.add_row(
        "examples",
        f"{metrics['examples']} train ({metrics['intents']} intents), "
        f"{metrics['test_examples']} test",
    )
    table.add_row("accuracy", _percent(metrics["accuracy"]))
    table.add_row("macro-F1", _percent(metrics["macro_f1"]))
    table.add_row("in-scope accuracy", _percent(metrics["in_scope_accuracy"]))
    table.add_row("top-1 accuracy (no threshold)", _percent(metrics["top1_accuracy"]))
    table.add_row("out-of-scope recall", _percent(metrics["oos_recall"]))
    table.add_row(
        "ms per query",
        f"{metrics['ms_per_query']:.2f} (p95 {metrics['ms_per_query_p95']:.2f}, "
        f"CPU {metrics['cpu_ms_per_query']:.2f})",
    )
    table.add_row("training", f"{metrics['train_seconds']:.1f} s")
    how = {
        "set": "as given",
        "held-out": "chosen on a held-out 20 % of the training data, never the test file",
        "default": "the default: too few oos training examples to choose one",
    }.get(metrics.get("threshold_source", ""), "")
    table.add_row(
        "threshold",
        f"{metrics['threshold']:.2f} ({how}; temperature {metrics['temperature']:.2f})",
    )
    out.print(table)
    if report is not None:
        out.print(f"report written to {report}", highlight=False)
