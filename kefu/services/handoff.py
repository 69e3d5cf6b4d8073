"""The hand-over service: what happens after a turn hands over, what customers hear while a
human owns their conversation, and what agents do (claim, reply, note, transfer, resolve).

Domain moves are :mod:`kefu.handoff` (run in a worker thread); this layer adds who may do
what, the live events customers listen to, and the webhooks outside desks receive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from anyio import to_thread

from kefu.core.errors import Forbidden, InvalidParam, KefuError, NotFound, ProviderError
from kefu.core.handoff_records import AgentRecord, NoteRecord, TicketRecord
from kefu.core.ids import end_user_id, is_id
from kefu.core.records import ConversationRecord, MessageRecord
from kefu.engine.app import AppRuntime
from kefu.engine.generation import SUMMARY_SAMPLING
from kefu.engine.prompt import summary_prompt
from kefu.handoff.events import EventHub
from kefu.handoff.inbox import Inbox
from kefu.handoff.note import handover_note
from kefu.handoff.states import HUMAN_STATES, next_state
from kefu.handoff.tickets import TicketDesk
from kefu.llm.profiles import strip_think
from kefu.observability import metrics
from kefu.safety import clean_text
from kefu.services.handoff_notify import Notifier, agent_ref, ticket_json
from kefu.services.registry import AppRegistry
from kefu.services.validation import clean_user, required_text
from kefu.store import Store

__all__ = ["ConversationView", "HandoffService"]

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TEXT = 4000
NOTE_TURNS = 10


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation as the console shows it."""

    conversation: ConversationRecord
    app: str
    user: str
    messages: list[MessageRecord]
    notes: list[NoteRecord]
    tickets: list[TicketRecord]


def clean_message(text: str, what: str = "text") -> str:
    return required_text(text, what, MAX_TEXT)


class HandoffService:
    """One per process; ``apps`` maps stored app ids back to the loaded apps."""

    def __init__(
        self, store: Store, apps: AppRegistry | None = None, hub: EventHub | None = None
    ) -> None:
        """``hub`` carries live customer events (in this process unless given)."""
        self._store = store
        self._apps = apps
        self.inbox = Inbox(store)
        self.tickets = TicketDesk(store)
        self.notify = Notifier(hub=hub)
        self._background: set[asyncio.Task[Any]] = set()

    # --- the turn -------------------------------------------------------------------------

    async def after_turn(
        self,
        app: AppRuntime,
        message: MessageRecord,
        user: str,
        previous_state: str,
        reason: str | None,
        ticket_id: str | None,
    ) -> str:
        """Act on a stored turn; returns the conversation's hand-over state afterwards.

        Never fails the turn (the customer already has the answer), and a client that
        leaves cannot cancel it half-way.
        """
        if previous_state == "bot" and message.route not in ("human", "handoff", "ticket"):
            return previous_state  # the bot answered and keeps the conversation: nothing to do
        task = self._spawn(self._after_turn(app, message, user, previous_state, reason, ticket_id))
        return await asyncio.shield(task)

    async def _after_turn(
        self,
        app: AppRuntime,
        message: MessageRecord,
        user: str,
        previous_state: str,
        reason: str | None,
        ticket_id: str | None,
    ) -> str:
        try:
            if message.route == "human":
                self.notify.webhook(app, "message", {
                    "conversation_id": message.conversation_id, "message_id": message.id,
                    "user": user, "query": message.query, "handoff_state": previous_state,
                })  # fmt: skip
                return previous_state
            if message.route == "handoff":
                return await self._hand_over(app, message, user, reason or "customer_request")
            if message.route == "ticket" and ticket_id is not None:
                await self._after_hours_ticket(app, message, user, reason, ticket_id)
            if previous_state == "resolved":
                await to_thread.run_sync(self.inbox.return_to_bot, message.conversation_id)
                return "bot"
        except KefuError as exc:
            log.warning("hand-over after message %s failed: %s", message.id, exc.message)
        return previous_state

    async def _hand_over(
        self, app: AppRuntime, message: MessageRecord, user: str, reason: str
    ) -> str:
        conversation = await to_thread.run_sync(self.inbox.request, message.conversation_id, reason)
        metrics.handoff_requested(app.name, reason)
        agent = None
        if app.config.handoff.auto_assign:
            agent = await to_thread.run_sync(self.inbox.auto_assign, conversation, app.name)
            if agent is not None:
                metrics.handoff_claimed(app.name, 0.0)  # assigned at once: no wait
        state = "human" if agent else conversation.handoff_state
        self.notify.state(message.conversation_id, state, agent)
        self.notify.webhook(app, "handoff", {
            "conversation_id": conversation.id, "user": user, "reason": reason,
            "handoff_state": state, "note": conversation.handoff_note,
            "agent": agent_ref(agent),
        })  # fmt: skip
        if app.config.handoff.llm_summary and app.model is not None:
            self._spawn(self._summarise(app, conversation))
        return state

    async def _after_hours_ticket(
        self, app: AppRuntime, message: MessageRecord, user: str, reason: str | None,
        ticket_id: str,
    ) -> None:  # fmt: skip
        turns = await to_thread.run_sync(
            self._store.conversations.recent_messages, message.conversation_id, NOTE_TURNS
        )
        conversation = await to_thread.run_sync(self.inbox.get, message.conversation_id)
        note = handover_note(reason or "customer_request", conversation.dialog_state, turns)
        ticket = await to_thread.run_sync(
            lambda: self.tickets.create(
                app_id=app.id,
                conversation_id=message.conversation_id,
                title=(message.query or note["summary"])[:80],
                description=f"{note['summary']}\n\nuser: {user}",
                created_by="bot",
                ticket_id=ticket_id,
            )
        )
        self.notify.webhook(app, "ticket", {"ticket": ticket_json(ticket), "user": user})

    async def _summarise(self, app: AppRuntime, conversation: ConversationRecord) -> None:
        """The optional model-written summary, added to the note when it is ready."""
        assert app.model is not None
        turns = await to_thread.run_sync(
            self._store.conversations.recent_messages, conversation.id, NOTE_TURNS
        )
        try:
            completion = await app.model.complete(
                summary_prompt(turns, app.config.language), SUMMARY_SAMPLING
            )
        except ProviderError as exc:
            log.warning("no model summary for the handover note: %s", exc.message)
            return
        # Keyed on the hand-over, not its state: an agent may claim it while the model writes.
        handoff_at = conversation.handoff_at
        if handoff_at is None:
            return
        added = await to_thread.run_sync(
            lambda: self._store.handoff.add_to_note(
                conversation.id, handoff_at, llm_summary=strip_think(completion.text)
            )
        )
        if not added:
            log.info("hand-over of %s ended before its summary was ready", conversation.id)

    async def drain(self) -> None:
        """Wait for hand-over work still running (model summaries) of this event loop."""
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def ended_elsewhere(self, conversation_id: str) -> bool:
        """A channel's own human desk (WeCom's 接待人员) ended the hand-over: the conversation
        is resolved, no kefu agent credited, and the bot answers the customer's next message."""

        def move() -> ConversationRecord | None:
            conversation = self.inbox.get(conversation_id)
            if conversation.handoff_state not in HUMAN_STATES:
                return None
            return self._store.handoff.move(
                conversation_id,
                expected_state=conversation.handoff_state,
                handoff_state=next_state(conversation.handoff_state, "resolve"),
            )

        moved = await to_thread.run_sync(move)
        if moved is not None:
            self.notify.state(conversation_id, moved.handoff_state)
        return moved is not None

    # --- customers ------------------------------------------------------------------------

    async def owned_conversation(
        self, app: AppRuntime, user: str, conversation_id: str
    ) -> ConversationRecord:
        """The end user's own conversation, or NotFound."""

        uid = end_user_id(app.id, clean_user(user))
        conversation = None
        if is_id(conversation_id):
            conversation = await to_thread.run_sync(
                self._store.conversations.get, app.id, uid, conversation_id
            )
        if conversation is None:
            raise NotFound("Conversation Not Exists.")
        return conversation

    async def customer_events(
        self, app: AppRuntime, user: str, conversation_id: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Checks ownership now (errors before any byte is sent), then returns the events:
        the state at once, then agent replies and state changes as they happen."""
        await self.owned_conversation(app, user, conversation_id)

        async def events() -> AsyncIterator[dict[str, Any]]:
            async with self.notify.hub.subscribe(conversation_id) as queue:
                # Read the state after subscribing, so no change falls in between.
                now = await self.owned_conversation(app, user, conversation_id)
                agent = None
                if now.assigned_agent_id and now.handoff_state == "human":
                    agent = await to_thread.run_sync(self._store.agents.get, now.assigned_agent_id)
                yield {
                    "event": "handoff_state",
                    "conversation_id": now.id,
                    "handoff_state": now.handoff_state,
                    "agent": agent_ref(agent),
                }
                while True:
                    yield await queue.get()

        return events()

    async def submit_csat(
        self, app: AppRuntime, user: str, conversation_id: str, rating: int, comment: str | None
    ) -> dict[str, Any]:
        conversation = await self.owned_conversation(app, user, conversation_id)
        if not app.config.handoff.csat:
            raise Forbidden("this app does not ask for satisfaction ratings")
        if conversation.handoff_at is None or conversation.handoff_state in HUMAN_STATES:
            raise InvalidParam("only a conversation an agent has resolved can be rated")
        if not 1 <= rating <= 5:
            raise InvalidParam("rating must be 1 to 5")
        comment = clean_text(comment).strip()[:MAX_TEXT] if comment else None
        record = await to_thread.run_sync(
            self._store.handoff.save_csat, conversation, rating, comment
        )
        self.notify.webhook(app, "csat", record.as_dict())
        return record.as_dict()

    # --- apps and permissions -------------------------------------------------------------

    def app_by_id(self, app_id: str) -> AppRuntime:
        for app in self._apps.all() if self._apps else ():
            if app.id == app_id:
                return app
        raise NotFound("no such app")

    def app_named(self, name: str) -> AppRuntime:
        if self._apps is None:
            raise NotFound(f"no app named {name!r}")
        return self._apps.get(name)

    def served_apps(self, agent: AgentRecord) -> list[AppRuntime]:
        return [a for a in (self._apps.all() if self._apps else []) if agent.serves(a.name)]

    def check_serves(self, agent: AgentRecord, app: AppRuntime) -> None:
        if not agent.serves(app.name):
            raise Forbidden(f"agent {agent.name!r} does not serve app {app.name!r}")
