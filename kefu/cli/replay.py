"""``kefu replay`` and ``kefu export conversations``: stored traffic against a changed app.

    kefu export conversations --app demo-shop --since 2026-11-24 --until 2026-12-01 -o week.jsonl
    kefu replay --app NEW.yaml --since 2026-11-24 --until 2026-12-01 [--html report.html]
    kefu replay --app NEW.yaml --baseline OLD.yaml --from week.jsonl

See :mod:`kefu.services.replay` for what is compared and docs/evaluation.md for the format.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kefu.appfile.app_config import load_app_config
from kefu.cli.errors import friendly_errors
from kefu.cli.replay_html import ASPECT_NAMES, render_html
from kefu.core.errors import InvalidParam
from kefu.core.settings import Settings
from kefu.services.conversation_export import (
    ExportedConversation,
    conversations_from_store,
    read_export,
    write_export,
)
from kefu.services.replay import ASPECTS, ReplayReport, customer_turns, replay
from kefu.services.sandbox import Sandbox

__all__ = ["export_conversations", "replay_command"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Since = Annotated[
    str | None,
    typer.Option("--since", help="conversations started at or after (ISO date/time, local)"),
]
Until = Annotated[
    str | None, typer.Option("--until", help="conversations started before (ISO date/time, local)")
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="the live data dir [env KEFU_DATA_DIR; ./data]"),
]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="at most this many")]


def parse_moment(text: str | None, option: str) -> dt.datetime | None:
    """An ISO date or date-time; without a zone it is the machine's local time."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidParam(f"{option}: {text!r} is not a date (e.g. 2026-12-01)") from None
    return (moment if moment.tzinfo else moment.astimezone()).astimezone(dt.UTC)


def _database_url(data_dir: Path | None) -> str:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir, "database_url": None})
        if not (data_dir / "kefu.db").is_file():
            raise InvalidParam(f"--data-dir: {data_dir} holds no kefu.db")
    return settings.resolved_database_url()


def _app_name(app: str) -> str:
    """An app's name, or the name declared in an app file."""
    path = Path(app)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_app_config(path).name
    return app


def _stored(
    app: str, since: str | None, until: str | None, data_dir: Path | None, limit: int | None
) -> list[ExportedConversation]:
    start, end = parse_moment(since, "--since"), parse_moment(until, "--until")
    if start is not None and end is not None and end <= start:
        raise InvalidParam("--until must be after --since")
    return list(
        conversations_from_store(_database_url(data_dir), app, since=start, until=end, limit=limit)
    )


def export_conversations(
    app: Annotated[str, typer.Option("--app", help="the app's name (or its YAML file)")],
    since: Since = None,
    until: Until = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="JSONL file ('-' or none: standard output)"),
    ] = None,
    data_dir: DataDir = None,
    limit: Limit = None,
) -> None:
    """Write an app's stored conversations (messages, traces, recorded tool results) as
    JSONL, one conversation a line; the database is opened read only."""
    with friendly_errors():
        conversations = _stored(_app_name(app), since, until, data_dir, limit)
        if output is None or str(output) == "-":
            count = write_export(conversations, sys.stdout)
        else:
            with output.open("w", encoding="utf-8") as stream:
                count = write_export(conversations, stream)
    err.print(f"exported {count} conversations", highlight=False)


def replay_command(
    app_file: Annotated[
        Path, typer.Option("--app", help="the changed app YAML to try", dir_okay=False)
    ],
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline", help="compare with this app YAML, replayed too [the stored answers]"
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option("--from", help="a `kefu export conversations` file [the live store]"),
    ] = None,
    since: Since = None,
    until: Until = None,
    source_app: Annotated[
        str | None, typer.Option("--source-app", help="whose conversations [the app's name]")
    ] = None,
    data_dir: DataDir = None,
    limit: Limit = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="also write an HTML report", dir_okay=False)
    ] = None,
    examples: Annotated[int, typer.Option(min=0, help="examples shown per change")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Replay stored customer turns against a changed app in a sandbox (tools answered from
    the recorded results, nothing written) and report what changed."""
    with friendly_errors():
        name = source_app or load_app_config(app_file).name
        if baseline is not None:
            load_app_config(baseline)  # a mistake in it fails before any work
        if source is not None:
            if since or until:
                raise InvalidParam("--since/--until select from the store; not with --from")
            conversations = [c for c in read_export(source) if c.app == name]
            conversations = conversations[:limit] if limit else conversations
        else:
            conversations = _stored(name, since, until, data_dir, limit)
        if not conversations:
            raise InvalidParam(f"no stored conversations of {name!r} to replay")
        report = _run(conversations, app_file, baseline, quiet=as_json)
    if as_json:
        typer.echo(json.dumps(report.summary(examples), ensure_ascii=False, default=str))
    else:
        _print(report, examples)
    if html is not None:
        html.write_text(render_html(report, max(examples, 20)), encoding="utf-8")
        err.print(f"HTML report written to {html}", highlight=False)


def _run(
    conversations: list[ExportedConversation], app_file: Path, baseline: Path | None, quiet: bool
) -> ReplayReport:
    with Sandbox(app_file) as candidate:
        old = Sandbox(baseline) if baseline is not None else None
        try:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err, transient=True, disable=quiet) as progress:
                task = progress.add_task("replaying", total=customer_turns(conversations))

                async def run() -> ReplayReport:
                    try:
                        return await replay(
                            conversations, candidate, old, on_turn=lambda: progress.advance(task)
                        )
                    finally:
                        for sandbox in (candidate, old):
                            if sandbox is not None:
                                await sandbox.aclose_connections()

                return asyncio.run(run())
        finally:
            if old is not None:
                old.close()


def _print(report: ReplayReport, examples: int) -> None:
    replayed = report.replayed or 1
    table = Table(title=f"replay of {report.app}: {report.candidate} vs {report.reference}")
    table.add_column("")
    table.add_column("turns", justify="right")
    table.add_column("share", justify="right")
    table.add_row("conversations", str(report.conversations), "")
    table.add_row("customer turns replayed", str(report.replayed), "")
    table.add_row("  handled by a human (not replayed)", str(report.skipped_human), "")
    changed = len(report.changed_turns)
    table.add_row("turns with a change", str(changed), f"{changed / replayed:.1%}")
    for aspect in ASPECTS:
        count = len(report.changes(aspect))
        table.add_row(f"  {ASPECT_NAMES[aspect]}", str(count), f"{count / replayed:.1%}")
    table.add_row("tool calls not recorded", str(len(report.not_recorded)), "")
    out.print(table)
    for aspect in ASPECTS:
        changes = report.changes(aspect)
        if not changes:
            continue
        out.print(f"\n[bold]{ASPECT_NAMES[aspect]}[/]: {len(changes)} turns", highlight=False)
        for (before, after), count in report.transitions(aspect).most_common(8):
            out.print(
                f"  {count:>4} × {escape(before or '—')} → {escape(after or '—')}", highlight=False
            )
        for turn in changes[:examples]:
            out.print(
                f"  [dim]e.g.[/] “{escape(turn.query)}”: "
                f"{escape(_short(turn.before.get(aspect)))} → "
                f"{escape(_short(turn.after.get(aspect)))}",
                highlight=False,
            )
    for tool, arguments in report.not_recorded[:examples]:
        shown = json.dumps(arguments, ensure_ascii=False)
        out.print(f"  not recorded: {escape(tool)} {escape(shown)}", highlight=False)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split()) or "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"
