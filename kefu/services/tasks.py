"""Running answer tasks, so ``POST /chat-messages/{task_id}/stop`` can reach them.

:class:`AnswerTasks` is what the chat service needs; :class:`InMemoryAnswerTasks` serves one
process (the embedded default). The Redis implementation (:mod:`kefu.services.redis_tasks`)
plugs in for replicas, where the stop request may reach another replica than the one
streaming the answer; both pass
:class:`kefu.testing.conformance.tasks.AnswerTasksConformance`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["AnswerTasks", "InMemoryAnswerTasks", "RunningTask", "TaskRegistry"]


@dataclass(slots=True)
class RunningTask:
    """One answer in progress on this process; ``stopped`` is set when a stop reaches it."""

    id: str
    app_id: str
    end_user_id: str
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


@runtime_checkable
class AnswerTasks(Protocol):
    """Answers in progress and their stop signals, possibly shared between replicas.

    The signal is readable three ways: ``stopped(task_id)``, ``await wait_stopped(task_id)``
    and the ``stopped`` event of the :class:`RunningTask` that ``start`` returned (local to
    the process that runs the answer).
    """

    def start(self, task_id: str, app_id: str, end_user_id: str) -> RunningTask:
        """Register an answer about to run here."""
        ...

    def finish(self, task_id: str) -> None:
        """Forget the answer (finished, stopped or abandoned); unknown ids are ignored."""
        ...

    def stop(self, task_id: str, app_id: str, end_user_id: str) -> bool:
        """Signal the task to stop; only its own user of its own app may stop it.

        Returns whether the signal was accepted (False: unknown task or not the owner).
        """
        ...

    def stopped(self, task_id: str) -> bool:
        """Whether a stop has reached the running task (False once it is finished)."""
        ...

    async def wait_stopped(self, task_id: str) -> bool:
        """Wait until the task is stopped (True) or finishes without a stop (False)."""
        ...


class InMemoryAnswerTasks:
    """Answers in progress in this process: a dict of :class:`RunningTask`."""

    def __init__(self) -> None:
        self._tasks: dict[str, RunningTask] = {}

    def start(self, task_id: str, app_id: str, end_user_id: str) -> RunningTask:
        task = RunningTask(task_id, app_id, end_user_id)
        self._tasks[task_id] = task
        return task

    def get(self, task_id: str) -> RunningTask | None:
        """The task running here under that id, if any."""
        return self._tasks.get(task_id)

    def running(self) -> list[RunningTask]:
        """The tasks running here."""
        return list(self._tasks.values())

    def finish(self, task_id: str) -> None:
        task = self._tasks.pop(task_id, None)
        if task is not None:
            task.finished.set()

    def stop(self, task_id: str, app_id: str, end_user_id: str) -> bool:
        """Signal the task to stop; only its own user of its own app may stop it."""
        task = self._tasks.get(task_id)
        if task is None or task.app_id != app_id or task.end_user_id != end_user_id:
            return False
        task.stopped.set()
        return True

    def stopped(self, task_id: str) -> bool:
        task = self._tasks.get(task_id)
        return task is not None and task.stopped.is_set()

    async def wait_stopped(self, task_id: str) -> bool:
        task = self._tasks.get(task_id)
        if task is None:
            return False
        waits = [
            asyncio.ensure_future(task.stopped.wait()),
            asyncio.ensure_future(task.finished.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        return task.stopped.is_set()


# The name callers constructed before the Protocol existed (``kefu.services.chat``).
TaskRegistry = InMemoryAnswerTasks
