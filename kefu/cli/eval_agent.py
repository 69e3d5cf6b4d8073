"""``kefu eval agent``: τ²-bench retail tasks against a kefu app and the demo shop.

By default it starts everything it needs: the demo shop (``--bench``, in a temporary data
dir) and kefu over the app file (``apps/demo-shop-agent.yaml``) on free loopback ports, with
the model given by ``--model-url``/``--model``/``--model-key``; ``--server``/``--api-key``
and ``--shop`` use running ones instead. A simulated customer (``--user-*``; by default the
same model) talks to kefu over ``/v1/chat-messages``; each episode is graded as τ² grades it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import kefu
from kefu.cli.errors import fail
from kefu.cli.local_servers import kefu_in_thread, shop_process
from kefu.core.errors import ConfigError, KefuError
from kefu.core.settings import Settings
from kefu.evaluation import (
    AgentBenchmark,
    BenchmarkResult,
    EpisodeProgress,
    EpisodeResult,
    KefuChatClient,
    LLMUserSimulator,
    ShopClient,
    Tau2Task,
    load_tasks,
    select_tasks,
)
from kefu.services.runtime import Runtime

__all__ = ["agent_app_file", "agent_command", "find_tau2_data", "print_summary"]

AGENT_APP = "demo-shop-agent"
DATA_ENV = "KEFU_TAU2_DATA"
DATA_RELATIVE = Path("shared/data/tau2_retail")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def agent_app_file() -> Path:
    """The bundled ``demo-shop-agent`` app: in the wheel, or in the source checkout."""
    package_dir = Path(kefu.__file__).parent
    for candidate in (
        package_dir / "_bundled_apps" / f"{AGENT_APP}.yaml",
        package_dir.parent / "apps" / f"{AGENT_APP}.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError("the agent app is not installed", file=f"apps/{AGENT_APP}.yaml")


def find_tau2_data(explicit: Path | None) -> Path:
    """``--data``, else ``$KEFU_TAU2_DATA``, else ``shared/data/tau2_retail`` above the cwd."""
    if explicit is None and os.environ.get(DATA_ENV):
        explicit = Path(os.environ[DATA_ENV])
    if explicit is not None:
        if not (explicit / "tasks.json").is_file():
            raise ConfigError(f"{explicit} holds no tasks.json", key="--data")
        return explicit
    for start in (Path.cwd(), Path(kefu.__file__).parent):
        for folder in (start.resolve(), *start.resolve().parents):
            if (folder / DATA_RELATIVE / "tasks.json").is_file():
                return folder / DATA_RELATIVE
    raise ConfigError(
        f"τ²-bench retail data not found: no {DATA_RELATIVE} above the current directory; "
        f"pass --data DIR or set {DATA_ENV}"
    )


def _task_ids(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[EpisodeProgress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bars:
        bar = bars.add_task("τ² episodes / 回合", total=total)

        def report(episode: EpisodeResult, done: int, _total: int) -> None:
            mark = "✓" if episode.reward == 1.0 else "✗"
            bars.update(
                bar,
                completed=done,
                description=f"τ² episodes / 回合 (task {episode.task_id} {mark})",
            )

        yield report


def print_summary(result: BenchmarkResult, output: Path | None) -> None:
    """The pass^k table: overall, then per task, with the models and the results file."""
    models = ", ".join(f"{role}: {name}" for role, name in result.models.items())
    table = Table(title=f"τ²-bench retail — {len(result.task_ids)} tasks × {result.trials} trials")
    table.add_column("task / 任务")
    for k in range(1, result.trials + 1):
        table.add_column(f"pass^{k}", justify="right")
    table.add_column("ended / 结束方式")
    ends: dict[str, list[str]] = {}
    for episode in result.episodes:
        ends.setdefault(episode.task_id, []).append(episode.termination)
    for task_id, ks in result.per_task().items():
        table.add_row(
            task_id, *(f"{v:.2f}" for v in ks.values()), escape(", ".join(ends.get(task_id, [])))
        )
    table.add_section()
    table.add_row(
        "overall / 总计", *(f"{v:.1%}" for v in result.pass_hat().values()), "", style="bold"
    )
    out.print(table)
    out.print(f"models / 模型: {escape(models)}", highlight=False)
    if result.gold_errors:
        err.print(f"[yellow]gold actions that failed: {result.gold_errors}[/]", highlight=False)
    if output is not None:
        out.print(f"results / 结果: {output}", highlight=False)


def agent_command(
    split: Annotated[
        str | None, typer.Option("--split", help="train | test | base (split_tasks.json)")
    ] = None,
    tasks: Annotated[str | None, typer.Option("--tasks", help="task ids, e.g. 0,1,5")] = None,
    trials: Annotated[int, typer.Option("--trials", min=1, max=32, help="k: trials a task")] = 1,
    max_turns: Annotated[
        int, typer.Option("--max-turns", min=1, max=200, help="customer messages per episode")
    ] = 30,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="τ² retail folder (env KEFU_TAU2_DATA)", file_okay=False),
    ] = None,
    app_file: Annotated[
        Path | None,
        typer.Option("--app", help="app YAML with the shop's tools (apps/demo-shop-agent.yaml)"),
    ] = None,
    model_url: Annotated[
        str | None,
        typer.Option("--model-url", help="kefu's OpenAI-compatible server (env KEFU_LLM_BASE_URL)"),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="kefu's model name (env KEFU_LLM_MODEL)")
    ] = None,
    model_key: Annotated[
        str | None,
        typer.Option("--model-key", envvar="KEFU_LLM_API_KEY", help="kefu's model API key"),
    ] = None,
    user_url: Annotated[
        str | None, typer.Option("--user-url", help="simulator's server (default: kefu's)")
    ] = None,
    user_model: Annotated[
        str | None, typer.Option("--user-model", help="simulator's model (default: kefu's)")
    ] = None,
    user_key: Annotated[
        str | None,
        typer.Option("--user-key", envvar="KEFU_EVAL_USER_API_KEY", help="simulator's API key"),
    ] = None,
    user_timeout: Annotated[
        float,
        typer.Option("--user-timeout", min=1, help="seconds the simulator may take a message"),
    ] = 300,
    server: Annotated[
        str | None, typer.Option("--server", help="a running kefu (then --api-key)")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="KEFU_EVAL_API_KEY", help="its app key")
    ] = None,
    shop: Annotated[
        str | None, typer.Option("--shop", help="a running shop started with --bench")
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", help="results JSON file", dir_okay=False)
    ] = Path("tau2_retail_results.json"),
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Run τ²-bench retail tasks against kefu and the demo shop; report pass^1…pass^k."""
    try:
        data_dir = find_tau2_data(data)
        chosen = select_tasks(load_tasks(data_dir), data_dir, split=split, ids=_task_ids(tasks))
        if not chosen:
            raise ConfigError("no task selected", key="--tasks")
        if server is not None and not api_key:
            raise ConfigError("--server needs --api-key (an app key of that server)")
        result = _run(
            chosen,
            trials=trials,
            max_turns=max_turns,
            app_file=app_file or agent_app_file(),
            model_url=model_url or os.environ.get("KEFU_LLM_BASE_URL"),
            model=model or os.environ.get("KEFU_LLM_MODEL"),
            model_key=model_key,
            user_url=user_url,
            user_model=user_model,
            user_key=user_key,
            user_timeout=user_timeout,
            server=server,
            api_key=api_key,
            shop=shop,
            progress=progress,
        )
    except KefuError as exc:
        fail(exc.message)
    result.write(output)
    print_summary(result, output)


def _run(
    tasks: list[Tau2Task],
    *,
    trials: int,
    max_turns: int,
    app_file: Path,
    model_url: str | None,
    model: str | None,
    model_key: str | None,
    user_url: str | None,
    user_model: str | None,
    user_key: str | None,
    user_timeout: float,
    server: str | None,
    api_key: str | None,
    shop: str | None,
    progress: bool,
) -> BenchmarkResult:
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kefu-tau2-")))
        shop_url = shop or stack.enter_context(shop_process(scratch / "shop"))
        os.environ["KEFU_DEMO_SHOP_URL"] = shop_url  # the app's tools read it at each call
        agent_model = model  # None with --server and no --model: then only a label is missing
        if server is None:
            settings = Settings(
                data_dir=scratch / "kefu",
                llm_base_url=model_url,
                llm_model=model,
                llm_api_key=SecretStr(model_key) if model_key else None,
                route_cache=False,
            )
            runtime = Runtime.build(settings, [app_file])
            stack.callback(runtime.close)
            app = runtime.apps.all()[0]
            llm = app.config.llm
            if app.model is None:
                raise ConfigError(
                    "the app has no model: give --model-url and --model", file=str(app_file)
                )
            model_url = model_url or llm.base_url
            agent_model = model or llm.model
            api_key = f"app-{secrets.token_urlsafe(24)}"
            runtime.apps.ensure_key(app, api_key)
            server = stack.enter_context(kefu_in_thread(runtime))
        simulator_url, simulator_model = user_url or model_url, user_model or agent_model
        if not simulator_url or not simulator_model:
            raise ConfigError("the user simulator needs --user-url and --user-model")
        simulator = LLMUserSimulator(
            simulator_url, simulator_model, user_key or model_key, timeout_s=user_timeout
        )
        models = {
            "kefu": f"{agent_model or '(the server’s)'} @ {model_url or server}",
            "user": f"{simulator_model} @ {simulator_url}",
        }
        return asyncio.run(
            _bench(
                AgentBenchmark(
                    KefuChatClient(server, str(api_key)),
                    ShopClient(shop_url, os.environ.get("KEFU_DEMO_SHOP_TOKEN") or None),
                    simulator,
                    max_turns=max_turns,
                    models=models,
                ),
                simulator,
                tasks,
                trials,
                progress,
            )
        )
    raise AssertionError("unreachable")  # pragma: no cover


async def _bench(
    bench: AgentBenchmark,
    simulator: LLMUserSimulator,
    tasks: list[Tau2Task],
    trials: int,
    progress: bool,
) -> BenchmarkResult:
    try:
        with _progress(len(tasks) * trials, progress) as report:
            return await bench.run(tasks, trials, report)
    finally:
        await bench.kefu.aclose()
        await bench.shop.aclose()
        await simulator.aclose()
