"""``kefu test [--app FILE] [PATHS]``: run an app's conversation tests, in process or against
a running server (``--url``, ``--key``), with a progress bar, a diff per failed test,
JUnit XML (``--junit``) and exit status 1 when a test fails (2: the tests could not run)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kefu.cli.conversation_tests.client import TestClient
from kefu.cli.conversation_tests.junit import write_junit
from kefu.cli.conversation_tests.report import print_failure, print_summary
from kefu.cli.conversation_tests.runner import TestResult, run_suite
from kefu.cli.conversation_tests.schema import TestFile, find_test_files, load_test_file
from kefu.cli.conversation_tests.shop import running_demo_shop
from kefu.cli.errors import fail
from kefu.core.errors import ConfigError, KefuError
from kefu.core.settings import Settings
from kefu.services.runtime import Runtime, demo_app_file

__all__ = ["default_tests_dir", "test_command"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
REMOTE_TIMEOUT_S = 60.0


def default_tests_dir(app_file: Path) -> Path:
    """``apps/demo-shop.yaml`` keeps its tests in ``apps/demo-shop/tests/`` (shown relative
    to the current directory when it lies under it, as failures name the file)."""
    folder = app_file.parent / app_file.stem / "tests"
    try:
        return folder.resolve().relative_to(Path.cwd())
    except ValueError:
        return folder


def _load(paths: list[Path], name_filter: str | None) -> list[TestFile]:
    suites = [load_test_file(path) for path in find_test_files(paths)]
    if name_filter:
        suites = [
            suite.model_copy(update={"tests": [t for t in suite.tests if name_filter in t.name]})
            for suite in suites
        ]
        suites = [suite for suite in suites if suite.tests]
        if not suites:
            raise ConfigError(f"no test name contains {name_filter!r}")
    return suites


def _is_demo_app(app_file: Path) -> bool:
    try:
        return app_file.resolve() == demo_app_file().resolve()
    except ConfigError:  # the bundled demo is not installed: this app is not it
        return False


@contextmanager
def _in_process(app_file: Path, demo_shop: bool) -> Iterator[TestClient]:
    """The app over a throw-away data dir, its API in process (no port, no server)."""
    from kefu.api.app import create_app

    with ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kefu-test-")))
        if demo_shop:
            stack.enter_context(running_demo_shop(data / "shop"))
        settings = Settings().model_copy(
            # Everything in the temp dir (never KEFU_DATABASE_URL's live database); one
            # runtime, built once: training in a child process only saves a server's memory.
            update={"data_dir": data / "kefu", "database_url": None, "train_in_subprocess": False}
        )
        runtime = Runtime.build(settings, [app_file])
        stack.callback(runtime.close)
        app = runtime.apps.all()[0]
        key = runtime.apps.new_key(app, "app")[1]
        transport = httpx.ASGITransport(app=create_app(runtime, close_runtime=False))
        http = httpx.AsyncClient(transport=transport, base_url="http://kefu.test", timeout=None)
        # the tools' and models' connections belong to the run's event loop: closed in it
        yield TestClient(http, key, runtime.admin_key, closers=[runtime.aclose_models])


async def _run(client: TestClient, suites: list[TestFile], progress: Progress) -> list[TestResult]:
    total = sum(len(suite.tests) for suite in suites)
    task = progress.add_task("conversations 对话", total=total)

    def done(result: TestResult) -> None:
        progress.advance(task)
        if not result.passed:
            progress.console.print(f"[red]✗[/] {result.name}", highlight=False)

    try:
        return await run_suite(client, suites, secrets.token_hex(4), done)
    finally:
        await client.aclose()


def test_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="test files or folders (default: the app's tests, apps/<app>/tests/)"),
    ] = None,
    app_file: Annotated[
        Path | None,
        typer.Option("--app", help="app YAML (default: the bundled demo app)", dir_okay=False),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="a running kefu server instead of in process")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="the app's API key (with --url)", envvar="KEFU_TEST_APP_KEY"),
    ] = None,
    admin_key: Annotated[
        str | None,
        typer.Option(
            "--admin-key",
            help="admin key to read traces (with --url); without it only the answer, "
            "sources and hand-over are checked",
            envvar="KEFU_ADMIN_KEY",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="write JUnit XML here", dir_okay=False)
    ] = None,
    demo_shop: Annotated[
        bool | None,
        typer.Option(
            "--demo-shop/--no-demo-shop",
            help="start the demo shop for the run (default: on for the demo app in process)",
        ),
    ] = None,
    name_filter: Annotated[
        str | None, typer.Option("-k", "--filter", help="only tests whose name contains this")
    ] = None,
) -> None:
    """Run conversation tests (YAML): what the customer says, what must be true after each
    turn. Exit 1 when one fails."""
    started = time.perf_counter()
    # Failing tools and hand-overs are what tests provoke: their warnings would bury the
    # report, whose diff says what each turn did.
    kefu_log = logging.getLogger("kefu")
    level = kefu_log.level
    kefu_log.setLevel(logging.ERROR)
    try:
        app_path = app_file or demo_app_file()
        suites = _load(list(paths or [default_tests_dir(app_path)]), name_filter)
        if url is not None and not key:
            raise ConfigError("--url needs the app's key: --key app-… (env KEFU_TEST_APP_KEY)")
        is_demo = app_file is None or _is_demo_app(app_path)
        with ExitStack() as stack:
            if url is None:
                client = stack.enter_context(
                    _in_process(app_path, demo_shop if demo_shop is not None else is_demo)
                )
            else:
                if demo_shop:
                    raise ConfigError(
                        "--demo-shop starts a shop for an in-process run only; with --url, "
                        "the server's own tools decide which shop they call"
                    )
                http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=REMOTE_TIMEOUT_S)
                client = TestClient(http, str(key), admin_key)
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=err, transient=True) as progress:
                results = asyncio.run(_run(client, suites, progress))
    except KefuError as exc:
        fail(exc.message)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc!r}")
    finally:
        kefu_log.setLevel(level)
    seconds = time.perf_counter() - started
    for result in results:
        if not result.passed:
            print_failure(out, result)
    print_summary(out, results, seconds)
    if junit is not None:
        write_junit(junit, results, seconds)
        out.print(f"JUnit XML: {junit}", highlight=False)
    if any(not result.passed for result in results):
        raise typer.Exit(1)
