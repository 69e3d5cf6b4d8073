"""Answers in progress in Redis, so ``stop`` reaches a stream running on another replica.

``start`` records the task (its app and user, for the owner check) in a Redis hash with a
lease of ``ttl_s`` (a dead replica's tasks expire); ``stop`` checks the owner, marks the hash
and publishes the task id on one channel, in one Lua script; each process listens on that
channel (:class:`~kefu.core.redis_conn.RedisSubscriber`) and sets the stopped event of its
own task. A stop published before this process's listener was subscribed is not lost: once
subscribed (and after every reconnect) the listener reads the marks of its running tasks.

A stop sent to the replica that runs the answer is handled in process, without Redis; while
Redis is unreachable that is the only stop that works, and tasks start as in-memory ones.
"""

from __future__ import annotations

import asyncio
import contextlib

from kefu.core.redis_conn import RedisConnection, RedisSubscriber
from kefu.services.tasks import InMemoryAnswerTasks, RunningTask

__all__ = ["RedisAnswerTasks"]

STOP_CHANNEL = "tasks:stop"
DEFAULT_TASK_TTL_S = 3600.0  # longer than any answer streams

# KEYS[1] the task; ARGV: app, user, channel, task id. 1 when accepted.
STOP = """
local owner = redis.call('HMGET', KEYS[1], 'app', 'user')
if owner[1] ~= ARGV[1] or owner[2] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'stopped', '1')
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""


class RedisAnswerTasks:
    """:class:`~kefu.services.tasks.AnswerTasks` across replicas: this process's tasks in
    memory, every task's owner and stop mark in Redis."""

    def __init__(self, connection: RedisConnection, ttl_s: float = DEFAULT_TASK_TTL_S) -> None:
        self._connection = connection
        self._ttl_ms = int(ttl_s * 1000)
        self._local = InMemoryAnswerTasks()
        self._stop = connection.sync.register_script(STOP)
        self._subscribers: dict[asyncio.AbstractEventLoop, RedisSubscriber] = {}
        self._listening: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    def _key(self, task_id: str) -> str:
        return self._connection.key("task", task_id)

    def start(self, task_id: str, app_id: str, end_user_id: str) -> RunningTask:
        task = self._local.start(task_id, app_id, end_user_id)
        self._listen()
        key = self._key(task_id)

        def record(client: object) -> None:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            pipe.hset(key, mapping={"app": app_id, "user": end_user_id})
            pipe.pexpire(key, self._ttl_ms)
            pipe.execute()

        self._connection.call("stop works on this replica only", record, None)
        return task

    def finish(self, task_id: str) -> None:
        self._local.finish(task_id)
        self._connection.call(
            "stop marks expire", lambda client: client.delete(self._key(task_id)), None
        )

    def stop(self, task_id: str, app_id: str, end_user_id: str) -> bool:
        if self._local.stop(task_id, app_id, end_user_id):
            return True  # running here: no need for Redis
        channel = self._connection.key(STOP_CHANNEL)
        accepted = self._connection.call(
            "stop works on this replica only",
            lambda client: self._stop(
                keys=[self._key(task_id)],
                args=[app_id, end_user_id, channel, task_id],
                client=client,
            ),
            0,
        )
        return bool(accepted)

    def stopped(self, task_id: str) -> bool:
        return self._local.stopped(task_id)

    async def wait_stopped(self, task_id: str) -> bool:
        return await self._local.wait_stopped(task_id)

    def _listen(self) -> None:
        """Start this event loop's listener for stops sent to other replicas (once)."""
        loop = asyncio.get_running_loop()
        listening = self._listening.get(loop)
        if listening is not None and not listening.done():
            return
        for old in [old for old in self._listening if old.is_closed()]:
            del self._listening[old]
            self._subscribers.pop(old, None)
        subscriber = self._subscribers.get(loop)
        if subscriber is None:
            subscriber = RedisSubscriber(self._connection, on_resubscribed=self._catch_up)
            self._subscribers[loop] = subscriber
        self._listening[loop] = loop.create_task(self._subscribe(subscriber))

    async def _subscribe(self, subscriber: RedisSubscriber) -> None:
        await self._connection.acall(
            "stop works on this replica only",
            subscriber.subscribe(STOP_CHANNEL, self._on_stop),
            None,
        )
        await self._catch_up()

    def _on_stop(self, data: bytes) -> None:
        task = self._local.get(data.decode())
        if task is not None:
            task.stopped.set()

    async def _catch_up(self) -> None:
        """Stops marked while this process was not listening."""
        running = self._local.running()
        if not running:
            return
        client = self._connection.async_client()
        try:
            async with client.pipeline(transaction=False) as pipe:
                for task in running:
                    pipe.hget(self._key(task.id), "stopped")
                marks = await self._connection.acall(
                    "stop works on this replica only", pipe.execute(), None
                )
            for task, mark in zip(running, marks or (), strict=False):
                if mark:
                    task.stopped.set()
        finally:
            await client.aclose()

    async def aclose(self) -> None:
        """Stop listening (this event loop)."""
        loop = asyncio.get_running_loop()
        listening = self._listening.pop(loop, None)
        if listening is not None:
            listening.cancel()
            with contextlib.suppress(BaseException):
                await listening
        subscriber = self._subscribers.pop(loop, None)
        if subscriber is not None:
            await subscriber.aclose()
