"""``kefu export finetune``: conversations and annotations as chat-format JSONL for
fine-tuning the company's model (LoRA), personal data masked. Reads the database only, like
``kefu kb gaps``; no app file is needed."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kefu.cli.errors import fail
from kefu.core.errors import InvalidParam, KefuError
from kefu.core.settings import Settings
from kefu.services.finetune_export import (
    DEFAULT_SKIPPED_ROUTES,
    ExportFilter,
    RatingFilter,
    write_finetune,
)

__all__ = ["export_app"]

export_app = typer.Typer(help="Export what kefu stored.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidParam(f"{option} takes a date like 2026-12-01, not {value!r}") from None


def _window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """``[from 00:00 UTC, the day after to 00:00 UTC)``; open ends by default."""
    first, last = _day(start, "--from"), _day(end, "--to")
    if first and last and first > last:
        raise InvalidParam("--from must not be after --to")
    since = datetime.combine(first, time(0), UTC) if first else EPOCH
    until = (
        datetime.combine(last + timedelta(days=1), time(0), UTC)
        if last
        else datetime.now(UTC) + timedelta(days=1)
    )
    return since, until


@export_app.command("finetune")
def finetune(
    app_name: Annotated[str, typer.Option("--app", help="the app's name")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="JSONL file to write ('-': standard output)")
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="first day (UTC), e.g. 2026-11-01")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="last day (UTC), inclusive")] = None,
    rating: Annotated[
        str,
        typer.Option(
            help="answers kept: not-disliked (drop 👎), liked (only 👍), all",
        ),
    ] = "not-disliked",
    routes: Annotated[
        list[str] | None,
        typer.Option(
            "--route",
            help="keep only bot answers of this route (repeat); default: every route but "
            + ", ".join(sorted(DEFAULT_SKIPPED_ROUTES)),
        ),
    ] = None,
    agents: Annotated[
        bool, typer.Option("--agents/--no-agents", help="agents' replies in hand-overs")
    ] = True,
    annotations: Annotated[
        bool, typer.Option("--annotations/--no-annotations", help="an example per annotation")
    ] = True,
    system: Annotated[
        str | None, typer.Option(help="a system message at the start of every example")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="where data lives [env KEFU_DATA_DIR; ./data]"),
    ] = None,
) -> None:
    """Conversations (and annotations) as chat-format JSONL for fine-tuning, PII masked."""
    try:
        if rating not in ("not-disliked", "liked", "all"):
            raise InvalidParam("--rating is one of not-disliked, liked, all")
        wanted = ExportFilter(
            rating=cast(RatingFilter, rating),
            routes=frozenset(routes) if routes else None,
            agents=agents,
            system=system,
        )
        window = _window(start, end)
        settings = Settings()
        if data_dir is not None:
            settings = settings.model_copy(update={"data_dir": data_dir})
        with Progress(
            TextColumn("[bold]exporting[/] turns"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("turns", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            if str(out) == "-":
                counts = write_finetune(
                    settings, app_name, wanted, window, sys.stdout,
                    annotations=annotations, progress=progress,
                )  # fmt: skip
            else:
                with out.open("w", encoding="utf-8") as file:
                    counts = write_finetune(
                        settings, app_name, wanted, window, file,
                        annotations=annotations, progress=progress,
                    )  # fmt: skip
    except KefuError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    skipped = ", ".join(f"{why} {n}" for why, n in sorted(counts.skipped_by.items())) or "none"
    err.print(
        f"{counts.conversations + counts.annotations} examples "
        f"({counts.conversations} conversations, {counts.annotations} annotations); "
        f"turns kept {counts.turns_kept}, left out {counts.turns_skipped} ({skipped})",
        highlight=False,
    )
