"""``kefu-demo-shop serve|reset``: the 小铺优选 order/bill/membership service for kefu's demo
tools (``kefu demo-shop …`` runs the same commands)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kefu_demo_shop.app import create_shop_app
from kefu_demo_shop.data import DB_FILENAME, ensure_database
from kefu_demo_shop.errors import ShopConfigError

__all__ = ["main", "shop_app"]

TOKEN_ENV = "KEFU_DEMO_SHOP_TOKEN"
FAULTS_ENV = "KEFU_DEMO_SHOP_FAULTS"
BENCH_ENV = "KEFU_DEMO_SHOP_BENCH"

shop_app = typer.Typer(
    help="The demo shop 小铺优选: orders, bills and membership over HTTP for kefu's tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="where demo_shop.sqlite3 lives (env KEFU_DATA_DIR; ./data)"),
]
SourceOption = Annotated[
    Path | None,
    typer.Option(
        "--source",
        help="τ²-bench retail db.json (env KEFU_DEMO_SHOP_SOURCE; else "
        "shared/data/tau2_retail/db.json found above the cwd)",
        dir_okay=False,
    ),
]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


def _db_path(data_dir: Path | None) -> Path:
    return (data_dir or Path(os.environ.get("KEFU_DATA_DIR") or "data")) / DB_FILENAME


@shop_app.command()
def reset(data_dir: DataDirOption = None, source: SourceOption = None) -> None:
    """Restore the shop's orders, bills and membership as shipped (a running shop sees it
    at its next request), so the README's dialogs work again."""
    db_path = _db_path(data_dir)
    try:
        ensure_database(db_path, source, reset=True)
    except ShopConfigError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        raise typer.Exit(2) from None
    err.print(f"demo shop data restored in {db_path.resolve()}", highlight=False)


@shop_app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8100,
    data_dir: DataDirOption = None,
    source: SourceOption = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="reload from the source, dropping changes")
    ] = False,
    faults: Annotated[
        bool,
        typer.Option("--faults", help="enable POST/DELETE /_faults (env KEFU_DEMO_SHOP_FAULTS=1)"),
    ] = False,
    bench: Annotated[
        bool,
        typer.Option(
            "--bench",
            help="enable /_bench/reset and /_bench/state for kefu eval agent "
            "(env KEFU_DEMO_SHOP_BENCH=1)",
        ),
    ] = False,
) -> None:
    """Serve the shop; the first start loads db.json into <data-dir>/demo_shop.sqlite3."""
    import uvicorn

    db_path = _db_path(data_dir)
    started = time.perf_counter()
    try:
        loaded = ensure_database(db_path, source, reset=reset)
        faults = faults or _flag(FAULTS_ENV)
        bench = bench or _flag(BENCH_ENV)
        app = create_shop_app(
            db_path,
            token=os.environ.get(TOKEN_ENV) or None,
            faults=faults,
            bench=bench,
            source=source,
        )
    except ShopConfigError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        raise typer.Exit(2) from None
    how = f"loaded in {time.perf_counter() - started:.1f} s" if loaded else "reused"
    extras = "".join(
        [
            ", bearer token required" if os.environ.get(TOKEN_ENV) else "",
            ", faults enabled" if faults else "",
            ", bench reset/state enabled" if bench else "",
        ]
    )
    err.print(
        f"demo shop at http://{host}:{port}  (data: {db_path.resolve()}, {how}{extras})",
        highlight=False,
        soft_wrap=True,
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def main() -> None:
    """The ``kefu-demo-shop`` console script."""
    shop_app(prog_name="kefu-demo-shop")


if __name__ == "__main__":
    main()
