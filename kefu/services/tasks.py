"""Running answer tasks, so ``POST /chat-messages/{task_id}/stop`` can reach them.

In process for the embedded default; a Redis-backed registry can replace it for replicas.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["RunningTask", "TaskRegistry"]


@dataclass(slots=True)
class RunningTask:
    id: str
    app_id: str
    end_user_id: str
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, RunningTask] = {}

    def start(self, task_id: str, app_id: str, end_user_id: str) -> RunningTask:
        task = RunningTask(task_id, app_id, end_user_id)
        self._tasks[task_id] = task
        return task

    def finish(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)

    def stop(self, task_id: str, app_id: str, end_user_id: str) -> bool:
        """Signal the task to stop; only its own user of its own app may stop it."""
        task = self._tasks.get(task_id)
        if task is None or task.app_id != app_id or task.end_user_id != end_user_id:
            return False
        task.stopped.set()
        return True
