"""The conformance suite for :class:`~kefu.services.tasks.AnswerTasks` (stop signals).

Subclass :class:`AnswerTasksConformance` and override ``tasks`` (and ``replica`` for a shared
implementation: another handle on the same state).
"""

from __future__ import annotations

import asyncio

import pytest

from kefu.services.tasks import AnswerTasks
from kefu.testing.conformance import SIGNAL_TIMEOUT_S

__all__ = ["AnswerTasksConformance"]


async def wait_stopped(tasks: AnswerTasks, task_id: str) -> bool:
    return await asyncio.wait_for(tasks.wait_stopped(task_id), SIGNAL_TIMEOUT_S)


class AnswerTasksConformance:
    """Behaviour every registry of answers in progress must show."""

    @pytest.fixture
    def tasks(self) -> AnswerTasks:
        raise NotImplementedError

    @pytest.fixture
    def replica(self, tasks: AnswerTasks) -> AnswerTasks:
        return tasks

    def test_is_answer_tasks(self, tasks: AnswerTasks) -> None:
        assert isinstance(tasks, AnswerTasks)

    async def test_a_running_task_is_not_stopped(self, tasks: AnswerTasks) -> None:
        running = tasks.start("t1", "app", "user")
        assert (running.id, running.app_id, running.end_user_id) == ("t1", "app", "user")
        assert not tasks.stopped("t1")
        assert not running.stopped.is_set()

    async def test_its_own_user_stops_it(self, tasks: AnswerTasks, replica: AnswerTasks) -> None:
        running = tasks.start("t1", "app", "user")
        assert replica.stop("t1", "app", "user")
        assert await wait_stopped(tasks, "t1")
        assert tasks.stopped("t1")
        assert running.stopped.is_set()

    async def test_only_its_own_user_of_its_own_app_may_stop_it(
        self, tasks: AnswerTasks, replica: AnswerTasks
    ) -> None:
        running = tasks.start("t1", "app", "user")
        assert not replica.stop("t1", "app", "someone-else")
        assert not replica.stop("t1", "other-app", "user")
        await asyncio.sleep(0.05)  # time for a wrongly accepted signal to arrive
        assert not tasks.stopped("t1")
        assert not running.stopped.is_set()

    async def test_unknown_and_finished_tasks_cannot_be_stopped(
        self, tasks: AnswerTasks, replica: AnswerTasks
    ) -> None:
        assert not replica.stop("nope", "app", "user")
        tasks.start("t1", "app", "user")
        tasks.finish("t1")
        assert not replica.stop("t1", "app", "user")
        assert not tasks.stopped("t1")
        assert not await wait_stopped(tasks, "t1")
        tasks.finish("t1")  # finishing twice, or an unknown task, is harmless
        tasks.finish("nope")

    async def test_a_waiter_is_released_by_the_finish(self, tasks: AnswerTasks) -> None:
        tasks.start("t1", "app", "user")
        waiter = asyncio.create_task(tasks.wait_stopped("t1"))
        await asyncio.sleep(0)
        assert not waiter.done()
        tasks.finish("t1")
        assert await asyncio.wait_for(waiter, SIGNAL_TIMEOUT_S) is False

    async def test_a_waiter_is_released_by_the_stop(
        self, tasks: AnswerTasks, replica: AnswerTasks
    ) -> None:
        tasks.start("t1", "app", "user")
        waiter = asyncio.create_task(tasks.wait_stopped("t1"))
        await asyncio.sleep(0)
        assert replica.stop("t1", "app", "user")
        assert await asyncio.wait_for(waiter, SIGNAL_TIMEOUT_S) is True

    async def test_tasks_are_independent(self, tasks: AnswerTasks, replica: AnswerTasks) -> None:
        first = tasks.start("t1", "app", "user")
        second = tasks.start("t2", "app", "user")
        assert replica.stop("t2", "app", "user")
        assert await wait_stopped(tasks, "t2")
        assert not tasks.stopped("t1") and not first.stopped.is_set()
        assert second.stopped.is_set()
