"""The agent inbox: conversations waiting for or owned by a human, and the moves between
states (request, claim, assign, transfer, release, resolve, return to the bot).

Every move is a compare-and-set on the conversation row, so two agents claiming at once
cannot both win: the second gets :class:`~kefu.core.errors.Conflict`.
"""

from __future__ import annotations

import threading
from typing import Any

from kefu.core.errors import Conflict, NotFound
from kefu.core.handoff_records import AgentRecord
from kefu.core.ids import utcnow
from kefu.core.records import ConversationRecord, MessageRecord
from kefu.handoff.assignment import pick_agent
from kefu.handoff.note import handover_note
from kefu.handoff.states import next_state
from kefu.store import Store

__all__ = ["Inbox"]

NOTE_MESSAGES = 10


class Inbox:
    """Synchronous; the engine calls it from a worker thread."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._assigning = threading.Lock()  # round-robin picks one agent at a time

    def get(self, conversation_id: str) -> ConversationRecord:
        conversation = self._store.handoff.conversation(conversation_id)
        if conversation is None:
            raise NotFound("Conversation Not Exists.")
        return conversation

    def request(self, conversation_id: str, reason: str) -> ConversationRecord:
        """Hand the conversation to the humans (bot or resolved → pending_human), with a note."""
        conversation = self.get(conversation_id)
        state = next_state(conversation.handoff_state, "request")
        messages = self._store.conversations.recent_messages(conversation_id, NOTE_MESSAGES)
        note = handover_note(reason, conversation.dialog_state, messages)
        return self._move(
            conversation,
            handoff_state=state,
            assigned_agent_id=None,
            handoff_at=utcnow(),
            handoff_reason=reason,
            handoff_note=note,
        )

    def auto_assign(self, conversation: ConversationRecord, app_name: str) -> AgentRecord | None:
        """Give a waiting conversation to the next online agent (round-robin), if any."""
        with self._assigning:
            agent = pick_agent(self._store.agents.list(), app_name)
            if agent is None:
                return None
            state = next_state(conversation.handoff_state, "assign")
            self._move(conversation, handoff_state=state, assigned_agent_id=agent.id)
            self._store.agents.mark_assigned(agent.id, utcnow())
            return agent

    def claim(self, conversation_id: str, agent: AgentRecord) -> ConversationRecord:
        conversation = self.get(conversation_id)
        if conversation.handoff_state == "human" and conversation.assigned_agent_id == agent.id:
            return conversation  # claiming twice is harmless
        state = next_state(conversation.handoff_state, "claim")
        claimed = self._move(conversation, handoff_state=state, assigned_agent_id=agent.id)
        self._store.agents.mark_assigned(agent.id, utcnow())
        return claimed

    def transfer(self, conversation_id: str, to_agent: AgentRecord | None) -> ConversationRecord:
        """To another agent, or (``None``) back to the queue for anyone to claim."""
        conversation = self.get(conversation_id)
        if to_agent is None:
            state = next_state(conversation.handoff_state, "release")
            return self._move(conversation, handoff_state=state, assigned_agent_id=None)
        state = next_state(conversation.handoff_state, "transfer")
        return self._move(conversation, handoff_state=state, assigned_agent_id=to_agent.id)

    def resolve(self, conversation_id: str, agent: AgentRecord) -> ConversationRecord:
        """Done: the bot answers the customer's next message. The resolver gets the CSAT."""
        conversation = self.get(conversation_id)
        state = next_state(conversation.handoff_state, "resolve")
        return self._move(conversation, handoff_state=state, assigned_agent_id=agent.id)

    def return_to_bot(self, conversation_id: str) -> ConversationRecord | None:
        """The customer wrote after a resolve: the conversation is the bot's again."""
        conversation = self.get(conversation_id)
        if conversation.handoff_state != "resolved":
            return None
        return self._store.handoff.move(
            conversation_id,
            expected_state="resolved",
            handoff_state=next_state("resolved", "return"),
        )

    def reply(
        self, conversation_id: str, agent: AgentRecord, text: str, language: str
    ) -> tuple[ConversationRecord, MessageRecord]:
        """An agent's message to the customer; replying to a waiting conversation claims it."""
        conversation = self.get(conversation_id)
        if conversation.handoff_state == "pending_human":
            conversation = self.claim(conversation_id, agent)
        if conversation.handoff_state != "human":
            raise Conflict("the conversation is not handed over to a human")
        if conversation.assigned_agent_id != agent.id:
            raise Conflict("another agent is handling this conversation; transfer it first")
        message = self._store.handoff.add_agent_message(
            conversation, agent_id=agent.id, agent_name=agent.name, text=text, language=language
        )
        return conversation, message

    def _move(self, conversation: ConversationRecord, **values: Any) -> ConversationRecord:
        moved = self._store.handoff.move(
            conversation.id,
            expected_state=conversation.handoff_state,
            expected_agent=conversation.assigned_agent_id,
            **values,
        )
        if moved is None:
            raise Conflict("the conversation changed meanwhile (another agent?); reload it")
        return moved
