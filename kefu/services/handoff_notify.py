"""Who hears about a hand-over: the customer (live events) and outside desks (webhooks)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from kefu.core.handoff_records import AgentRecord, TicketRecord
from kefu.core.records import MessageRecord
from kefu.engine.app import AppRuntime
from kefu.handoff.events import EventHub, InMemoryEventHub
from kefu.handoff.webhooks import WebhookDispatcher, WebhookTarget

__all__ = ["CustomerListener", "Notifier", "agent_message_event", "agent_ref", "ticket_json"]

log = logging.getLogger(__name__)

# Told every event a customer hears (agent replies, state changes), in this process: how
# the channels (kefu.channels) relay an agent's reply to a customer on WeCom, Feishu…
CustomerListener = Callable[[str, dict[str, Any]], None]


def agent_ref(agent: AgentRecord | None) -> dict[str, Any] | None:
    """The agent as customers and webhooks see them: who, never how they sign in."""
    return {"id": agent.id, "name": agent.name} if agent else None


def agent_message_event(message: MessageRecord) -> dict[str, Any]:
    """An agent's reply as the customer's event stream carries it."""
    return {
        "event": "agent_message",
        "id": message.id,
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "answer": message.answer,
        "agent": {"id": message.agent_id, "name": message.agent_name},
        "created_at": int(message.created_at.timestamp()),
    }


def ticket_json(ticket: TicketRecord) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "app_id": ticket.app_id,
        "conversation_id": ticket.conversation_id,
        "title": ticket.title,
        "description": ticket.description,
        "priority": ticket.priority,
        "status": ticket.status,
        "assignee_id": ticket.assignee_id,
        "created_by": ticket.created_by,
        "created_at": int(ticket.created_at.timestamp()),
        "updated_at": int(ticket.updated_at.timestamp()),
    }


class Notifier:
    """Fans events out in process and schedules webhook deliveries (never awaited)."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, hub: EventHub | None = None
    ) -> None:
        self.hub: EventHub = hub if hub is not None else InMemoryEventHub()
        self.dispatcher = WebhookDispatcher()
        self._environ = environ
        self._warned: set[str] = set()
        self.listeners: list[CustomerListener] = []

    def customer(self, conversation_id: str, event: dict[str, Any]) -> None:
        self.hub.publish(conversation_id, event)
        for listener in self.listeners:
            try:
                listener(conversation_id, event)
            except Exception:  # a listener's bug never fails the agent's move
                log.exception("customer-event listener failed on %s", conversation_id)

    def state(
        self,
        conversation_id: str,
        state: str,
        agent: AgentRecord | None = None,
        **extra: Any,
    ) -> None:
        self.customer(
            conversation_id,
            {
                "event": "handoff_state",
                "conversation_id": conversation_id,
                "handoff_state": state,
                "agent": agent_ref(agent),
                **extra,
            },
        )

    def webhook(self, app: AppRuntime, event: str, data: dict[str, Any]) -> None:
        for hook in app.config.handoff.webhooks:
            if event not in hook.events:
                continue
            secret = hook.resolve_secret(dict(self._environ or os.environ))
            if secret is None:
                if hook.url not in self._warned:
                    self._warned.add(hook.url)
                    log.warning(
                        "app %s: webhook %s skipped: environment variable %s is not set",
                        app.name, hook.url, hook.secret_env,
                    )  # fmt: skip
                continue
            target = WebhookTarget(hook.url, secret, hook.max_attempts, hook.timeout_s)
            self.dispatcher.send(target, event, app.name, data)
