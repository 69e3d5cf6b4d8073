"""The SQLite fast insert path stores exactly what the portable SQLAlchemy path stores (the
one PostgreSQL uses), and a bad turn fails alone, on either database."""

from __future__ import annotations

import pytest

from kefu.core.ids import end_user_id, new_id, utcnow
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord, TurnRecord
from kefu.store import Store
from kefu.store.writer import TurnWriter, write_turns


def make_turn(app_id: str, user: str, conversation_id: str | None = None) -> TurnRecord:
    now = utcnow()
    uid = end_user_id(app_id, user)
    opened = None
    if conversation_id is None:
        conversation_id = new_id()
        opened = ConversationRecord(
            conversation_id, app_id, uid, "名字", {"k": "值"}, "normal", 0, now, now
        )
    message = MessageRecord(
        id=new_id(),
        app_id=app_id,
        conversation_id=conversation_id,
        end_user_id=uid,
        query="订单多久发货",
        answer="48 小时内",
        inputs={"a": [1, 2]},
        status="normal",
        route="faq",
        language="zh",
        retriever_resources=[{"position": 1, "score": 0.9}],
        usage={"latency": 0.01},
        latency_ms=1.5,
        error=None,
        created_at=now,
    )
    trace = TraceRecord(message.id, app_id, "f" * 32, {"stages": [{"name": "route"}]}, now)
    return TurnRecord(app_id, uid, user, conversation_id, message, trace, opened)


@pytest.mark.parametrize("portable", [False, True])
def test_written_turns_read_back(db_url: str, portable: bool) -> None:
    store = Store.open(db_url)
    app = store.apps.upsert_app("w", {})
    first = make_turn(app.id, "alice")
    second = make_turn(app.id, "alice", first.conversation_id)
    with store.engine.begin() as connection:
        write_turns(connection, [first], portable=portable)
    with store.engine.begin() as connection:
        write_turns(connection, [second, make_turn(app.id, "bob")], portable=portable)
    uid = end_user_id(app.id, "alice")
    conversation = store.conversations.get(app.id, uid, first.conversation_id)
    assert conversation is not None
    assert conversation.message_count == 2 and conversation.inputs == {"k": "值"}
    messages, _ = store.conversations.messages(
        app.id, uid, first.conversation_id, first_id=None, limit=10
    )
    assert [m.id for m in messages] == [first.message.id, second.message.id]
    stored = messages[0]
    assert stored.retriever_resources == [{"position": 1, "score": 0.9}]
    assert stored.inputs == {"a": [1, 2]} and stored.latency_ms == 1.5
    assert stored.created_at == first.message.created_at
    trace = store.conversations.get_trace(first.message.id)
    assert trace is not None and trace.data == {"stages": [{"name": "route"}]}
    store.close()


async def test_a_bad_turn_does_not_fail_its_batch(db_url: str) -> None:
    store = Store.open(db_url)
    app = store.apps.upsert_app("b", {})
    good = make_turn(app.id, "carol")
    duplicate = make_turn(app.id, "carol")
    duplicate.message = good.message  # same primary key: this one must fail alone
    # A writer that waits long enough for both turns to land in one group commit.
    writer = TurnWriter(store.engine, linger_s=0.2)
    futures = [writer.submit(good), writer.submit(duplicate)]
    outcomes = [f.exception(timeout=10) for f in futures]
    writer.close()
    assert outcomes[0] is None and outcomes[1] is not None
    assert store.conversations.get_message(app.id, good.message.id) is not None
    store.close()
