"""``kefu db upgrade``: migrate the database once, before the replicas start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from kefu.cli.errors import fail
from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.services.schema import upgrade_database

__all__ = ["db_app"]

db_app = typer.Typer(help="The database schema (KEFU_DATABASE_URL).", no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@db_app.command("upgrade")
def upgrade(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="where the default SQLite file lives [env KEFU_DATA_DIR]"),
    ] = None,
) -> None:
    """Bring the database to the newest schema, then exit (数据库迁移到最新版本)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        fail(exc.errors()[0]["msg"])
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        revision = upgrade_database(url)
    except KefuError as exc:
        fail(exc.message)
    out.print(f"database schema at revision {revision} / 数据库结构版本 {revision}")
