"""An index build's steps as rich progress bars (``kefu kb import``, ``kefu eval``)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["RichBuildProgress", "build_progress_bars"]

_STEPS = {"tokenize": "tokenizing / 分词", "embed": "embedding / 编码"}


def build_progress_bars(console: Console) -> Progress:
    """The bars an index build draws on ``console`` (use as a context manager)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class RichBuildProgress:
    """A :class:`~kefu.knowledge.BuildProgress` drawing one bar per step of the build; a
    step with nothing to do (everything reused) shows as an empty, finished bar."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, step: str, total: int) -> None:
        label = _STEPS.get(step, step)
        if not total:
            label += ": all reused / 全部复用"
        self._tasks[step] = self._progress.add_task(label, total=total)

    def advance(self, step: str, done: int) -> None:
        task = self._tasks.get(step)
        if task is None:
            task = self._tasks[step] = self._progress.add_task(_STEPS.get(step, step))
        self._progress.advance(task, done)
