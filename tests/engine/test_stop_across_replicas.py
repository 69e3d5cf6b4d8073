"""A stop sent to one replica stops the answer streaming on another (stop signals on Redis)."""

from __future__ import annotations

import uuid

from kefu.core.redis_conn import RedisConnection
from kefu.services.chat import AnswerDelta, ChatRequest, ChatService, TurnResult
from kefu.services.redis_tasks import RedisAnswerTasks
from kefu.services.runtime import Runtime
from kefu.testing import ScriptedChatModel, ScriptedReply

QUESTION = "拒收的话运费谁出"  # answered by the model from 《配送政策》
PARTS = tuple(
    f"第{n}段：非质量问题拒收的订单按七天无理由退货处理，运费从退款中扣除。" for n in range(8)
)


async def test_a_stop_sent_to_another_replica_stops_the_stream(
    llm_runtime: Runtime, redis_url: str
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    here_connection = RedisConnection(redis_url, prefix=prefix)
    there_connection = RedisConnection(redis_url, prefix=prefix)
    here_tasks, there_tasks = RedisAnswerTasks(here_connection), RedisAnswerTasks(there_connection)
    here = llm_runtime.chat
    here.tasks = here_tasks
    there = ChatService(llm_runtime.store, tasks=there_tasks)
    app = llm_runtime.apps.get("demo-shop")
    app.model = ScriptedChatModel(default=ScriptedReply(PARTS, delay_s=0.05))
    try:
        turn = await here.prepare(ChatRequest(app=app, user="s", query=QUESTION))
        events = []
        async for event in here.stream(turn):
            events.append(event)
            if len(events) == 1:
                assert isinstance(event, AnswerDelta)
                there.stop(app, "s", turn.task_id)  # the stop request reached the other replica
        result = events[-1]
        assert isinstance(result, TurnResult) and result.status == "stopped"
        assert len(events) < len(PARTS)  # it stopped well before the end
    finally:
        await here_tasks.aclose()
        await there_tasks.aclose()
        here_connection.close()
        there_connection.close()
