"""What a chat client shows around an answer: suggested next questions, the conversation's
variables (its dialog state), and the app's feedback list (Dify's service API)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anyio import to_thread

from kefu.core.errors import InvalidParam, NotFound
from kefu.core.ids import end_user_id, is_id
from kefu.engine.app import AppRuntime
from kefu.knowledge.tokenizer import detect_language
from kefu.services.validation import clean_user
from kefu.store import Store
from kefu.store.feedbacks import FeedbackRecord, list_feedbacks
from kefu.store.tool_steps import tool_calls_of

__all__ = ["ConversationVariable", "FollowUp"]

SUGGESTIONS = 3
CANDIDATES = 12  # FAQ entries looked at for SUGGESTIONS in the question's language
_VARIABLE_IDS = uuid.UUID("6b0f5f5e-3c1a-4c1e-9d6e-6b6566750000")  # namespace for uuid5


@dataclass(frozen=True, slots=True)
class ConversationVariable:
    id: str
    name: str
    value_type: str  # string | number | boolean | object | array
    value: Any
    description: str
    created_at: datetime
    updated_at: datetime


class FollowUp:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def suggested(self, app: AppRuntime, user: str, message_id: str) -> list[str]:
        """Up to three questions to ask next: the FAQ questions closest to the one asked,
        other than the one that answered it, in its language. No model call: the index
        already ranks them, so this costs a lookup, not tokens."""
        if not app.config.suggested_questions_after_answer:
            raise InvalidParam(
                "Suggested questions after an answer are turned off for this app. "
                "/ 该应用未开启回答后的推荐问题。"
            )
        uid = end_user_id(app.id, clean_user(user))
        message = None
        if is_id(message_id):
            message = await to_thread.run_sync(
                self._store.conversations.get_message, app.id, message_id
            )
        if message is not None and message.end_user_id == uid:  # not deleted since?
            owner = await to_thread.run_sync(
                self._store.conversations.get, app.id, uid, message.conversation_id
            )
            message = message if owner is not None else None
        if message is None or message.end_user_id != uid:
            raise NotFound("Message Not Exists.")
        if not message.query:  # an agent's reply
            return []
        hits = await to_thread.run_sync(
            lambda: app.index.match_faq(message.query, top_k=CANDIDATES)
        )
        language = message.language or detect_language(message.query)
        asked = message.query.strip()
        suggestions: list[str] = []
        for hit in hits:
            question = hit.entry.question.strip()
            if (
                hit.entry.answer.strip() in message.answer
                or question == asked
                or question in suggestions
                or detect_language(question) != language
            ):
                continue
            suggestions.append(question)
            if len(suggestions) == SUGGESTIONS:
                break
        return suggestions

    async def variables(
        self, app: AppRuntime, user: str, conversation_id: str
    ) -> list[ConversationVariable]:
        """The conversation's dialog state as Dify's conversation variables: the active
        flow's slots (``<flow>.<slot>``), the values remembered across flows, the language."""
        uid = end_user_id(app.id, clean_user(user))
        conversation = None
        if is_id(conversation_id):
            conversation = await to_thread.run_sync(
                self._store.conversations.get, app.id, uid, conversation_id
            )
        if conversation is None:
            raise NotFound("Conversation Not Exists.")
        state = conversation.dialog_state or {}
        found: list[tuple[str, Any, str]] = []
        active = state.get("active") or {}
        if isinstance(active, dict) and active.get("flow"):
            flow = str(active["flow"])
            found.append(("active_flow", flow, "the flow in progress / 进行中的流程"))
            for slot, value in (active.get("slots") or {}).items():
                found.append((f"{flow}.{slot}", value, f"slot of flow {flow} / 流程槽位"))
        for name, value in (state.get("profile") or {}).items():
            found.append((str(name), value, "remembered for this conversation / 本会话记住的值"))
        if state.get("language"):
            found.append(("language", state["language"], "the customer's language / 顾客语言"))
        return [
            ConversationVariable(
                id=str(uuid.uuid5(_VARIABLE_IDS, f"{conversation.id}/{name}")),
                name=name,
                value_type=_value_type(value),
                value=value,
                description=description,
                created_at=conversation.created_at,
                updated_at=conversation.updated_at,
            )
            for name, value, description in found
        ]

    async def tool_calls(
        self, app: AppRuntime, message_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The tools each answer called (from its trace), for the history's agent thoughts."""
        return await to_thread.run_sync(
            tool_calls_of, self._store.engine, app.id, list(message_ids)
        )

    async def feedbacks(self, app: AppRuntime, page: int, limit: int) -> list[FeedbackRecord]:
        return await to_thread.run_sync(list_feedbacks, self._store.engine, app.id, page, limit)


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"
