"""The hand-over state machine and the inbox over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from kefu.core.errors import Conflict, InvalidParam
from kefu.core.ids import end_user_id, new_id, utcnow
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord, TurnRecord
from kefu.handoff.inbox import Inbox
from kefu.handoff.states import next_state
from kefu.handoff.tickets import TicketDesk
from kefu.store import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def start_conversation(store: Store, query: str = "我要退款", user: str = "u1") -> str:
    app = store.apps.upsert_app("desk", {})
    uid = end_user_id(app.id, user)
    now = utcnow()
    conversation = ConversationRecord(new_id(), app.id, uid, "c", {}, "normal", 0, now, now)
    message_id = new_id()
    message = MessageRecord(
        message_id, app.id, conversation.id, uid, query, "好的", {}, "normal", "faq", "zh",
        [], {}, 1.0, None, now, intent="after_sales.refund", sentiment="negative",
    )  # fmt: skip
    turn = TurnRecord(
        app.id, uid, user, conversation.id, message,
        TraceRecord(message_id, app.id, "t", {}, now), conversation,
        dialog_state={"last_intent": "after_sales.refund", "negative_streak": 2,
                      "active": {"flow": "refund", "slots": {"order_id": "A1"}}},
    )  # fmt: skip
    store._writer.submit(turn).result()
    return conversation.id


def test_illegal_moves_are_conflicts() -> None:
    assert next_state("bot", "request") == "pending_human"
    assert next_state("resolved", "return") == "bot"
    for state, action in [("bot", "claim"), ("bot", "resolve"), ("resolved", "claim")]:
        with pytest.raises(Conflict):
            next_state(state, action)  # type: ignore[arg-type]


def test_request_claim_reply_resolve_and_back_to_the_bot(store: Store) -> None:
    inbox = Inbox(store)
    cid = start_conversation(store)
    alice, _ = store.agents.create("alice", [])
    bob, _ = store.agents.create("bob", [])

    waiting = inbox.request(cid, "customer_request")
    assert waiting.handoff_state == "pending_human" and waiting.assigned_agent_id is None
    note = waiting.handoff_note
    assert note is not None
    assert note["intent"] == "after_sales.refund" and note["slots"] == {"order_id": "A1"}
    assert note["sentiment"]["last"] == "negative" and note["last_turns"][0]["query"] == "我要退款"
    assert [i.conversation_id for i in store.handoff.inbox(["pending_human"])] == [cid]

    assert inbox.claim(cid, alice).assigned_agent_id == alice.id
    with pytest.raises(Conflict):
        inbox.claim(cid, bob)  # already Alice's
    with pytest.raises(Conflict):
        inbox.reply(cid, bob, "我来", "zh")
    _, message = inbox.reply(cid, alice, "您好，我是 alice", "zh")
    assert (message.query, message.answer, message.agent_name) == ("", "您好，我是 alice", "alice")
    history = store.conversations.recent_messages(cid, 10)
    assert [m.answer for m in history] == ["好的", "您好，我是 alice"]

    assert inbox.resolve(cid, alice).handoff_state == "resolved"
    with pytest.raises(Conflict):
        inbox.resolve(cid, alice)
    assert inbox.return_to_bot(cid).handoff_state == "bot"  # type: ignore[union-attr]


def test_round_robin_among_online_agents_who_serve_the_app(store: Store) -> None:
    inbox = Inbox(store)
    agents = [store.agents.create(name, apps)[0] for name, apps in
              [("a", []), ("b", ["desk"]), ("c", ["other"]), ("d", [])]]  # fmt: skip
    for agent in agents[:3]:
        store.agents.set_online(agent.id, True)  # d stays offline, c serves another app
    picked = []
    for n in range(4):
        conversation = inbox.request(start_conversation(store, user=f"rr{n}"), "unanswered")
        agent = inbox.auto_assign(conversation, "desk")
        assert agent is not None
        picked.append(agent.name)
        assert inbox.get(conversation.id).handoff_state == "human"
    assert picked == ["a", "b", "a", "b"]
    for agent in agents:
        store.agents.set_online(agent.id, False)
    waiting = inbox.request(start_conversation(store, user="nobody"), "unanswered")
    assert inbox.auto_assign(waiting, "desk") is None


def test_inbox_filters_by_wait_and_agent(store: Store) -> None:
    inbox = Inbox(store)
    first = inbox.request(start_conversation(store, user="w1"), "customer_request")
    agent, _ = store.agents.create("e", [])
    inbox.claim(first.id, agent)
    second = inbox.request(start_conversation(store, user="w2"), "customer_request")
    both = store.handoff.inbox(["pending_human", "human"])
    assert [i.conversation_id for i in both] == [first.id, second.id]
    assert both[0].assigned_agent_name == "e" and both[1].user == "w2"
    mine = store.handoff.inbox(["human"], agent_id=agent.id)
    assert [i.conversation_id for i in mine] == [first.id]
    long_ago = utcnow() - timedelta(minutes=5)
    assert store.handoff.inbox(["pending_human"], waiting_since=long_ago) == []


def test_tickets_validate_fields_and_close_for_good(store: Store) -> None:
    desk = TicketDesk(store)
    cid = start_conversation(store)
    app_id = store.handoff.conversation(cid).app_id  # type: ignore[union-attr]
    ticket = desk.create(app_id=app_id, conversation_id=cid, title=" 退款 800 元 ",
                         priority="high", created_by="alice")  # fmt: skip
    assert (ticket.title, ticket.status, ticket.priority) == ("退款 800 元", "open", "high")
    with pytest.raises(InvalidParam):
        desk.create(app_id=app_id, conversation_id=None, title="  ", created_by="x")
    with pytest.raises(InvalidParam):
        desk.update(ticket.id, {"priority": "whenever"})
    with pytest.raises(InvalidParam):
        desk.update(ticket.id, {"assignee_id": new_id()})
    assert desk.update(ticket.id, {"status": "closed"}).status == "closed"
    with pytest.raises(Conflict):
        desk.update(ticket.id, {"status": "open"})


def test_csat_is_one_per_handoff_and_credited_to_the_agent(store: Store) -> None:
    inbox = Inbox(store)
    cid = start_conversation(store)
    agent, _ = store.agents.create("f", [])
    inbox.request(cid, "customer_request")
    inbox.claim(cid, agent)
    resolved = inbox.resolve(cid, agent)
    store.handoff.save_csat(resolved, 3, "ok")
    again = store.handoff.save_csat(resolved, 5, "great")
    ratings = store.handoff.csat()
    assert [(r.rating, r.comment, r.agent_id) for r in ratings] == [(5, "great", agent.id)]
    assert again.id == ratings[0].id
