"""What agents do through the agent API and the console, and the admin's agent management.

Agents authenticate with their own ``agent-…`` keys; the admin key acts as the built-in
agent ``admin``. An agent sees and acts on the conversations of the apps it serves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from anyio import to_thread

from kefu.core.errors import InvalidParam, NotFound, Unauthorized
from kefu.core.handoff_records import (
    EVERY_APP,
    AgentRecord,
    CsatRecord,
    InboxItem,
    NoteRecord,
    TicketRecord,
)
from kefu.core.ids import is_id, utcnow
from kefu.core.records import ConversationRecord, MessageRecord, TraceRecord
from kefu.engine.app import AppRuntime
from kefu.handoff.states import HUMAN_STATES, parse_state
from kefu.observability import metrics
from kefu.services.handoff import ConversationView, HandoffService, clean_message
from kefu.services.handoff_notify import agent_message_event, ticket_json
from kefu.services.validation import clean_name
from kefu.store import Store

__all__ = ["AgentDesk"]

MAX_NAME = 64


class AgentDesk:
    def __init__(self, store: Store, handoff: HandoffService) -> None:
        self._store = store
        self._handoff = handoff
        self._admin_agent: AgentRecord | None = None

    # --- who is calling -------------------------------------------------------------------

    async def authenticate(self, key: str, *, is_admin: bool) -> AgentRecord:
        if is_admin:
            if self._admin_agent is None:
                self._admin_agent = await to_thread.run_sync(self._store.agents.ensure_admin)
            return self._admin_agent
        agent = await to_thread.run_sync(self._store.agents.by_key, key)
        if agent is None:
            raise Unauthorized("Access token is invalid")
        return agent

    async def set_online(self, agent: AgentRecord, online: bool) -> AgentRecord:
        updated = await to_thread.run_sync(self._store.agents.set_online, agent.id, online)
        if updated is None:
            raise NotFound("Agent Not Exists.")
        return updated

    async def agents(self, colleague_of: AgentRecord) -> list[AgentRecord]:
        """The agents ``colleague_of`` may transfer to: those sharing an app with it (an
        agent never learns who serves other apps)."""
        agents = await to_thread.run_sync(self._store.agents.list)
        return [agent for agent in agents if agent.shares_an_app_with(colleague_of)]

    # --- the inbox and one conversation ---------------------------------------------------

    async def inbox(
        self,
        agent: AgentRecord,
        *,
        state: str | None,
        app: str | None,
        min_wait_s: float | None,
        mine: bool,
        limit: int,
    ) -> list[InboxItem]:
        """Waiting and owned conversations (``state`` narrows it), longest waiting first."""
        states = [parse_state(state)] if state else sorted(HUMAN_STATES)
        apps = self._handoff.served_apps(agent)
        if app is not None:
            apps = [a for a in apps if a.name == app]
        since = utcnow() - timedelta(seconds=min_wait_s) if min_wait_s else None
        return await to_thread.run_sync(
            lambda: self._store.handoff.inbox(
                states,
                app_ids=[a.id for a in apps],
                agent_id=agent.id if mine else None,
                waiting_since=since,
                limit=limit,
            )
        )

    async def view(self, agent: AgentRecord, conversation_id: str) -> ConversationView:
        conversation = await self._conversation(agent, conversation_id)
        store = self._store

        def load() -> ConversationView:
            return ConversationView(
                conversation=conversation,
                app=self._handoff.app_by_id(conversation.app_id).name,
                user=store.handoff.end_user_external_id(conversation.end_user_id) or "",
                messages=store.handoff.recent_messages(conversation, 100),
                notes=store.handoff.notes(conversation.id),
                tickets=store.tickets.list(conversation_id=conversation.id),
            )

        return await to_thread.run_sync(load)

    async def trace(self, agent: AgentRecord, message_id: str) -> TraceRecord:
        trace = None
        if is_id(message_id):
            trace = await to_thread.run_sync(self._store.conversations.get_trace, message_id)
        if trace is None:
            raise NotFound("Message Not Exists.")
        self._handoff.check_serves(agent, self._handoff.app_by_id(trace.app_id))
        return trace

    # --- moves ------------------------------------------------------------------------------

    async def claim(self, agent: AgentRecord, conversation_id: str) -> ConversationRecord:
        before = await self._conversation(agent, conversation_id)
        claimed = await to_thread.run_sync(self._handoff.inbox.claim, conversation_id, agent)
        self._waited(before)
        self._after_assign(claimed, agent)
        return claimed

    async def reply(self, agent: AgentRecord, conversation_id: str, text: str) -> MessageRecord:
        before = await self._conversation(agent, conversation_id)
        text = clean_message(text)
        app = self._handoff.app_by_id(before.app_id)
        language = (before.dialog_state or {}).get("language") or app.config.language
        conversation, message = await to_thread.run_sync(
            self._handoff.inbox.reply, conversation_id, agent, text, language
        )
        if before.handoff_state != "human":
            self._waited(before)
            self._after_assign(conversation, agent)
        self._handoff.notify.customer(conversation_id, agent_message_event(message))
        self._handoff.notify.webhook(app, "reply", {
            "conversation_id": conversation_id, "message_id": message.id,
            "agent": {"id": agent.id, "name": agent.name}, "text": text,
        })  # fmt: skip
        return message

    async def add_note(self, agent: AgentRecord, conversation_id: str, text: str) -> NoteRecord:
        conversation = await self._conversation(agent, conversation_id)
        note = await to_thread.run_sync(
            self._store.handoff.add_note, conversation, agent.id, agent.name, clean_message(text)
        )
        app = self._handoff.app_by_id(conversation.app_id)
        self._handoff.notify.webhook(app, "note", {
            "conversation_id": conversation_id, "note_id": note.id, "agent": agent.name,
            "text": note.body,
        })  # fmt: skip
        return note

    async def transfer(
        self, agent: AgentRecord, conversation_id: str, to_agent_id: str | None
    ) -> ConversationRecord:
        """To another agent, or (no id) back to the queue."""
        await self._conversation(agent, conversation_id)
        target = None
        if to_agent_id is not None:
            target = await to_thread.run_sync(self._store.agents.get, to_agent_id)
            if target is None or target.disabled:
                raise InvalidParam("agent_id: no such agent")
        moved = await to_thread.run_sync(self._handoff.inbox.transfer, conversation_id, target)
        self._after_assign(moved, target)
        return moved

    async def resolve(self, agent: AgentRecord, conversation_id: str) -> ConversationRecord:
        """Give the conversation back to the bot, and ask the customer for a rating."""
        await self._conversation(agent, conversation_id)
        resolved = await to_thread.run_sync(self._handoff.inbox.resolve, conversation_id, agent)
        app = self._handoff.app_by_id(resolved.app_id)
        policy = app.config.handoff
        language = (resolved.dialog_state or {}).get("language") or app.config.language
        extra: dict[str, Any] = {"message": policy.replies.resolved.get(language)}
        if policy.csat:
            extra["csat"] = {"question": policy.replies.csat_question.get(language)}
        self._handoff.notify.state(conversation_id, "resolved", agent, **extra)
        self._handoff.notify.webhook(app, "resolve", {
            "conversation_id": conversation_id, "agent": {"id": agent.id, "name": agent.name},
        })  # fmt: skip
        return resolved

    def _waited(self, before: ConversationRecord) -> None:
        """An agent took a waiting conversation: how long it waited since the hand-over."""
        if before.handoff_state == "pending_human" and before.handoff_at is not None:
            app = self._handoff.app_by_id(before.app_id).name
            metrics.handoff_claimed(app, (utcnow() - before.handoff_at).total_seconds())

    def _after_assign(self, conversation: ConversationRecord, agent: AgentRecord | None) -> None:
        self._handoff.notify.state(conversation.id, conversation.handoff_state, agent)
        app = self._handoff.app_by_id(conversation.app_id)
        self._handoff.notify.webhook(app, "assign", {
            "conversation_id": conversation.id, "handoff_state": conversation.handoff_state,
            "agent": {"id": agent.id, "name": agent.name} if agent else None,
        })  # fmt: skip

    async def conversation_app(self, agent: AgentRecord, conversation_id: str) -> AppRuntime:
        """The app of a conversation the agent may see (to save an answer from it)."""
        conversation = await self._conversation(agent, conversation_id)
        return self._handoff.app_by_id(conversation.app_id)

    async def _conversation(self, agent: AgentRecord, conversation_id: str) -> ConversationRecord:
        if not is_id(conversation_id):
            raise NotFound("Conversation Not Exists.")
        conversation = await to_thread.run_sync(self._handoff.inbox.get, conversation_id)
        self._handoff.check_serves(agent, self._handoff.app_by_id(conversation.app_id))
        return conversation

    # --- tickets ----------------------------------------------------------------------------

    async def create_ticket(
        self, agent: AgentRecord, *, conversation_id: str | None, app: str | None,
        fields: dict[str, Any],
    ) -> TicketRecord:  # fmt: skip
        if conversation_id:
            app_id = (await self._conversation(agent, conversation_id)).app_id
        elif app:
            served = [a for a in self._handoff.served_apps(agent) if a.name == app]
            if not served:
                raise NotFound(f"no app named {app!r} for this agent")
            app_id = served[0].id
        else:
            raise InvalidParam("give conversation_id or app")
        ticket = await to_thread.run_sync(
            lambda: self._handoff.tickets.create(
                app_id=app_id, conversation_id=conversation_id or None,
                created_by=agent.name, **fields,
            )
        )  # fmt: skip
        self._handoff.notify.webhook(
            self._handoff.app_by_id(app_id), "ticket", {"ticket": ticket_json(ticket)}
        )
        return ticket

    async def tickets(
        self, agent: AgentRecord, *, status: str | None, mine: bool, limit: int
    ) -> list[TicketRecord]:
        apps = [a.id for a in self._handoff.served_apps(agent)]
        return await to_thread.run_sync(
            lambda: self._store.tickets.list(
                app_ids=apps,
                statuses=[status] if status else None,
                assignee_id=agent.id if mine else None,
                limit=limit,
            )
        )

    async def ticket(self, agent: AgentRecord, ticket_id: str) -> TicketRecord:
        if not is_id(ticket_id):
            raise NotFound("Ticket Not Exists.")
        ticket = await to_thread.run_sync(self._handoff.tickets.get, ticket_id)
        self._handoff.check_serves(agent, self._handoff.app_by_id(ticket.app_id))
        return ticket

    async def update_ticket(
        self, agent: AgentRecord, ticket_id: str, changes: dict[str, Any]
    ) -> TicketRecord:
        await self.ticket(agent, ticket_id)
        ticket = await to_thread.run_sync(self._handoff.tickets.update, ticket_id, changes)
        self._handoff.notify.webhook(
            self._handoff.app_by_id(ticket.app_id), "ticket", {"ticket": ticket_json(ticket)}
        )
        return ticket

    # --- the admin's side -------------------------------------------------------------------

    async def create_agent(self, name: str, apps: list[str], actor: str) -> tuple[AgentRecord, str]:
        name = clean_name(name, "name", MAX_NAME)
        if not apps:
            raise InvalidParam('apps: name the apps this agent serves, or ["*"] for every app')
        for app in apps:
            if app == EVERY_APP:
                continue
            try:
                self._handoff.app_named(app)
            except NotFound:
                raise InvalidParam(f"apps: no app named {app!r}") from None
        agent, key = await to_thread.run_sync(self._store.agents.create, name, apps)
        await self._audit(actor, "agent.create", agent.id, name=name, apps=apps)
        return agent, key

    async def rotate_agent_key(self, agent_id: str, actor: str) -> tuple[AgentRecord, str]:
        rotated = await to_thread.run_sync(self._store.agents.rotate_key, agent_id)
        if rotated is None:
            raise NotFound("Agent Not Exists.")
        await self._audit(actor, "agent.rotate_key", agent_id)
        return rotated

    async def disable_agent(self, agent_id: str, actor: str) -> None:
        if not await to_thread.run_sync(self._store.agents.disable, agent_id):
            raise NotFound("Agent Not Exists.")
        await self._audit(actor, "agent.disable", agent_id)

    async def all_agents(self) -> list[AgentRecord]:
        return await to_thread.run_sync(lambda: self._store.agents.list(include_disabled=True))

    async def csat(self, app: str | None, limit: int) -> list[CsatRecord]:
        app_ids = None
        if app is not None:
            app_ids = [self._handoff.app_named(app).id]
        return await to_thread.run_sync(
            lambda: self._store.handoff.csat(app_ids=app_ids, limit=limit)
        )

    async def _audit(self, actor: str, action: str, target: str, **details: Any) -> None:
        await to_thread.run_sync(lambda: self._store.admin.audit(actor, action, target, **details))
