"""The ``kefu`` command: serve, ask, chat, kb import, eval, test, export, db, demo-shop."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kefu.api.http_parser import HttpParser
from kefu.cli.conversation_tests.command import test_command
from kefu.cli.db import db_app
from kefu.cli.demo_shop import demo_shop
from kefu.cli.errors import friendly_errors
from kefu.cli.eval import eval_app
from kefu.cli.eval_agent import agent_command
from kefu.cli.eval_handoff import handoff_command
from kefu.cli.eval_injection import injection_command
from kefu.cli.eval_knowledge import faq_command, retrieval_command
from kefu.cli.eval_questions import questions_command
from kefu.cli.export_data import export_app
from kefu.cli.index_progress import RichBuildProgress, build_progress_bars
from kefu.cli.kb_gaps import kb_gaps
from kefu.cli.replay import export_conversations, replay_command
from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.observability.logs import configure_logging
from kefu.services.chat import ChatRequest, TurnResult
from kefu.services.knowledge_sync import expand_paths, import_paths
from kefu.services.registry import reload_knowledge
from kefu.services.runtime import Runtime

if TYPE_CHECKING:
    import uvicorn

__all__ = ["app", "main"]

app = typer.Typer(
    help="kefu 客服 — self-hosted AI customer service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
kb_app = typer.Typer(help="Manage an app's knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
kb_app.command("gaps")(kb_gaps)
# Everything after ``demo-shop`` (--help included) goes to the shop's own command line.
app.command(
    "demo-shop",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)(demo_shop)
eval_app.command("faq")(faq_command)
eval_app.command("retrieval")(retrieval_command)
eval_app.command("questions")(questions_command)
eval_app.command("injection")(injection_command)
eval_app.command("handoff")(handoff_command)
eval_app.command("agent")(agent_command)
app.add_typer(eval_app, name="eval")
app.command("replay")(replay_command)
export_app.command("conversations")(export_conversations)
app.command("test")(test_command)
app.add_typer(export_app, name="export")
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("kefu.cli")

AppFiles = Annotated[
    list[Path] | None,
    typer.Option("--app", help="app YAML file (repeat for several apps)", dir_okay=False),
]
Demo = Annotated[bool, typer.Option("--demo", help="serve the bundled demo-shop app")]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="where data lives [env KEFU_DATA_DIR; ./data]")
]


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def _build(app_files: list[Path] | None, demo: bool, data_dir: Path | None) -> Runtime:
    files = list(app_files or [])
    return Runtime.build(_settings(data_dir), files, demo=demo or not files)


@app.command()
def serve(
    app_files: AppFiles = None,
    demo: Demo = False,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    data_dir: DataDir = None,
    http: Annotated[
        HttpParser,
        typer.Option(help="HTTP parser: httptools (C, the default when installed) or h11"),
    ] = HttpParser.AUTO,
) -> None:
    """Serve the apps over HTTP: chat page at /, API under /v1."""
    from threadpoolctl import threadpool_limits

    from kefu.api.app import create_app
    from kefu.api.server import DrainingServer, server_config

    # Many short requests at once: one BLAS thread per request beats threads fighting over
    # two cores (a 10k-vector search took 12-16 ms with threaded BLAS, 0.3 ms without).
    threadpool_limits(1)
    with friendly_errors():
        settings = Settings()  # the same the runtime reads; the log set-up needs it first
    json_logs = configure_logging(settings.log_level, settings.log_format) == "json"
    with friendly_errors():
        runtime = _build(app_files, demo, data_dir)
    for line in runtime.announcements:
        if json_logs:  # a log collector reads JSON only
            log.warning("%s", line)
        else:
            err.print(f"[yellow]{line}[/]", highlight=False, soft_wrap=True)
    with friendly_errors():  # a channel's settings are checked as the app is built
        app = create_app(runtime)
    # Start-up made hundreds of thousands of long-lived objects (tokenizer dictionary,
    # indexes, framework); freezing them keeps full GC passes, and their pauses, short.
    gc.freeze()
    server = DrainingServer(
        server_config(app, runtime.settings, host=host, port=port, parser=http), runtime
    )
    where = f"http://{host}:{port}"
    names = ", ".join(a.name for a in runtime.apps.all())
    ready = [
        f"kefu serving {names} at {where}/  (console {where}/console, data "
        f"{runtime.settings.data_dir.resolve()})",
        *runtime.keys,
    ]
    # The keys are what a newcomer needs next: the last lines before serving, after
    # uvicorn's own start-up lines, not buried above them.
    threading.Thread(
        target=_announce_when_started, args=(server, ready, json_logs), daemon=True
    ).start()
    server.run()


def _announce_when_started(server: uvicorn.Server, lines: list[str], json_logs: bool) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    for line in lines:
        if json_logs:
            log.info("%s", line)
        else:
            err.print(f"[bold green]{line}[/]", highlight=False, soft_wrap=True)


def _print_sources(result: TurnResult) -> None:
    for source in result.sources:
        err.print(
            f"  [dim][{source.position}] {source.document_name} (score {source.score:.2f})[/]",
            highlight=False,
        )


async def _ask_once(
    runtime: Runtime, app_name: str, user: str, query: str, conversation_id: str | None
) -> TurnResult:
    turn = await runtime.chat.prepare(
        ChatRequest(
            app=runtime.apps.get(app_name), user=user, query=query, conversation_id=conversation_id
        )
    )
    return await runtime.chat.answer(turn)


@app.command()
def ask(
    query: Annotated[str, typer.Argument(help="the customer's question")],
    app_files: AppFiles = None,
    demo: Demo = False,
    user: Annotated[str, typer.Option(help="end-user id")] = "cli-user",
    data_dir: DataDir = None,
) -> None:
    """Answer one question: the answer to stdout, its sources to stderr."""
    with friendly_errors():
        runtime = _build(app_files, demo, data_dir)
        try:
            app_name = runtime.apps.all()[0].name
            result = asyncio.run(_ask_once(runtime, app_name, user, query, None))
        finally:
            runtime.close()
    print(result.answer)
    _print_sources(result)


@app.command()
def chat(
    app_files: AppFiles = None,
    demo: Demo = False,
    user: Annotated[str, typer.Option(help="end-user id")] = "cli-user",
    data_dir: DataDir = None,
) -> None:
    """Talk to the bot in the terminal (empty line, 'exit' or Ctrl-D to quit)."""
    with friendly_errors():
        runtime = _build(app_files, demo, data_dir)
    app_runtime = runtime.apps.all()[0]
    config = app_runtime.config
    if config.opening_statement:
        out.print(
            f"[bold cyan]{config.display_title()}[/]: "
            f"{config.opening_statement.get(config.language)}",
            highlight=False,
        )
    conversation_id: str | None = None
    try:
        while True:
            try:
                query = out.input("[bold]你 / you[/]: ")
            except (EOFError, KeyboardInterrupt):
                break
            if not query.strip() or query.strip().lower() in {"exit", "quit", "退出"}:
                break
            try:
                result = asyncio.run(
                    _ask_once(runtime, app_runtime.name, user, query, conversation_id)
                )
            except KefuError as exc:
                err.print(f"[red]{exc.message}[/]", highlight=False)
                continue
            conversation_id = result.conversation_id
            if not result.answer and result.handoff_state in ("pending_human", "human"):
                # The bot stays silent while an agent owns the conversation; say so.
                out.print(
                    "[dim]（已转人工，消息已送达客服，请在控制台回复 / "
                    "a human agent has this conversation: your message is in their inbox）[/]",
                    highlight=False,
                )
                continue
            out.print(f"[bold cyan]客服 / bot[/]: {result.answer}", highlight=False)
            _print_sources(result)
    finally:
        runtime.close()


@kb_app.command("import")
def kb_import(
    paths: Annotated[list[Path], typer.Argument(help="document/FAQ files or folders")],
    app_files: AppFiles = None,
    demo: Demo = False,
    data_dir: DataDir = None,
) -> None:
    """Import Markdown/text documents and FAQ CSV/JSONL files into an app's knowledge."""
    with friendly_errors():
        runtime = _build(app_files, demo, data_dir)
        try:
            app_runtime = runtime.apps.all()[0]
            files = expand_paths(paths)
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err) as progress:
                task = progress.add_task(f"importing into {app_runtime.name}", total=len(files))

                def advance(result: Any) -> None:
                    state = "updated" if result.changed else "unchanged"
                    progress.console.print(
                        f"  {result.name}: {result.items} {result.kind} items, {state}",
                        highlight=False,
                    )
                    progress.advance(task)

                results = import_paths(
                    runtime.store, app_runtime.id, app_runtime.config, files, on_file=advance
                )
            with build_progress_bars(err) as bars:
                report = reload_knowledge(app_runtime, runtime.store, RichBuildProgress(bars))
        finally:
            runtime.close()
    changed = sum(r.changed for r in results)
    out.print(f"imported {len(results)} files ({changed} changed) into {app_runtime.name}")
    if report is not None:
        out.print(f"index: {report.summary()}", highlight=False)


def main() -> None:
    app(prog_name="kefu")


if __name__ == "__main__":  # pragma: no cover
    main()
