"""How every ``kefu`` command ends on a mistake: one clear line on stderr, exit status 2,
never a traceback (configuration, input and reachable-service errors alike)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from kefu.core.errors import KefuError

__all__ = ["fail", "friendly_errors"]

_err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print ``message`` as the command's error and end it with exit status 2."""
    _err.print(f"[bold red]错误 / error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Configuration and input mistakes (kefu's errors, a ``KEFU_*`` setting that does not
    validate) end the command with :func:`fail`."""
    try:
        yield
    except KefuError as exc:
        fail(exc.message)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(f"{where + ': ' if where else ''}{first['msg']}")
